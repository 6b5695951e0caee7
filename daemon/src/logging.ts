import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines to stdout: journald keeps them and `journalctl -u blinkd -o cat | pino-pretty`
 * reads them. Biometric data (embeddings, images) is never logged.
 */
export function createLogger(level: string, destination: number | NodeJS.WritableStream = 1): Logger {
  return pino(
    {
      level,
      base: { svc: 'blinkd' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          'password',
          '*.password',
          'apiKey',
          '*.apiKey',
          'encryptionKey',
          '*.encryptionKey',
          'passphrase',
          '*.passphrase',
          'claimCode',
          '*.claimCode',
          'embedding',
          '*.embedding',
        ],
        censor: '***',
      },
    },
    typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination,
  );
}
