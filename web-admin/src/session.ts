import type { Me } from './api.js';

/** Who is signed in (refreshed at login, logout and when the server says the session ended). */
export interface Session {
  me: Me;
}
