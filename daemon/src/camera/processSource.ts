import { redactUrls } from '../util/redactUrl.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { MjpegSplitter } from './jpeg.js';
import type { FrameSink, FrameSource } from './frameSource.js';

/**
 * A child process that writes MJPEG to stdout (rpicam-vid, libcamera-vid, ffmpeg). Frames
 * are split on SOI/EOI and time-stamped on arrival (neither tool gives per-frame wall-clock
 * time on a pipe). The child's stderr tail is kept for the "why did it die" message.
 */
export class ProcessFrameSource implements FrameSource {
  private child: ChildProcess | null = null;
  private stopping = false;
  private stderrTail = '';

  constructor(
    readonly description: string,
    private readonly command: string,
    private readonly args: string[],
  ) {}

  async start(sink: FrameSink): Promise<void> {
    this.stopping = false;
    this.stderrTail = '';
    const splitter = new MjpegSplitter((jpeg) => sink.frame(jpeg, Date.now()));
    const child = spawn(this.command, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (chunk: Buffer) => splitter.push(chunk));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-2000);
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => reject(new Error(`cannot start ${this.command}: ${err.message}`)));
    });
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      // ffmpeg names its input in errors: an RTSP URL carries the camera's credentials.
      const tail = redactUrls(this.stderrTail.trim().split('\n').slice(-3).join(' | '));
      if (code === 0) sink.ended(`${this.command} finished`, 'finished');
      else sink.ended(`${this.command} exited (${signal ?? `code ${code}`})${tail ? ': ' + tail : ''}`, 'error');
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 1500);
    await exited;
    clearTimeout(timer);
  }
}
