/**
 * Credentials out of URLs, at one place: every URL the unit logs, stores or reports (broker, RTSP
 * camera, sync server) goes through here. `scheme://user:password@host/…` → `scheme://***@host/…`.
 */
const CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s@/]*@/gi;

export function redactUrl(url: string): string {
  return url.replace(CREDENTIALS, '$1***@');
}

/** The same for free text that may contain URLs (a tool's stderr, an error message). */
export function redactUrls(text: string): string {
  return text.replace(CREDENTIALS, '$1***@');
}
