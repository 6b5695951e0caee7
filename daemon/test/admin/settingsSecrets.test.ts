import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, startAdmin, type Harness } from './adminHarness.js';

/**
 * The stored broker password goes to whatever host mqtt.url names. An admin (or a stolen admin
 * session) used to point mqtt.url at their own host, wait for a restart, and read the password
 * from the CONNECT packet. And a URL with credentials in it was shown to viewers as it was.
 */
describe('settings that send secrets somewhere', () => {
  let h: Harness;
  let admin: Client;

  beforeAll(async () => {
    h = await startAdmin({ mqtt: { url: 'mqtt://broker.lan:1883', username: 'door', password: 'broker-s3cret' } });
    admin = new Client(h.url);
    expect(await admin.setup(h.setupToken())).toBe(200);
  });
  afterAll(async () => h?.close());

  const saved = async (path: string) =>
    ((await admin.req('GET', '/api/v1/settings')).json.settings as Array<{ path: string; value: unknown; isSet?: boolean }>).find((s) => s.path === path)!;

  it('changing the broker host without entering its password again is refused, naming the password; nothing is saved', async () => {
    const r = await admin.req('PUT', '/api/v1/settings', { changes: { 'mqtt.url': 'mqtt://attacker.example:1883' } });
    expect(r.status).toBe(400);
    expect(r.json.message).toMatch(/mqtt\.url: .*attacker\.example.*mqtt\.password/);
    expect(r.text).not.toContain('broker-s3cret');
    expect((await saved('mqtt.url')).value).toBe('mqtt://broker.lan:1883');
    // the same host on another port is another destination too
    expect((await admin.req('PUT', '/api/v1/settings', { changes: { 'mqtt.url': 'mqtt://broker.lan:8883' } })).status).toBe(400);
  });

  it('with the password entered again (or cleared) in the same change, the new host is saved', async () => {
    const r = await admin.req('PUT', '/api/v1/settings', { changes: { 'mqtt.url': 'mqtts://broker2.lan:8883', 'mqtt.password': 'new-broker-pw' } });
    expect(r.status, r.text).toBe(200);
    expect((await saved('mqtt.url')).value).toBe('mqtts://broker2.lan:8883');
    const cleared = await admin.req('PUT', '/api/v1/settings', { changes: { 'mqtt.url': 'mqtt://broker3.lan:1883', 'mqtt.password': '' } });
    expect(cleared.status, cleared.text).toBe(200);
    expect(await saved('mqtt.password')).toMatchObject({ isSet: false });
    // the other fields of the form (same host) need nothing re-entered
    expect((await admin.req('PUT', '/api/v1/settings', { changes: { 'mqtt.url': 'mqtt://broker3.lan:1883', 'mqtt.topicPrefix': 'site1' } })).status).toBe(200);
  });

  it('credentials inside a URL are never shown, and saving the form back keeps them', async () => {
    const set = await admin.req('PUT', '/api/v1/settings', { changes: { 'mqtt.url': 'mqtt://door:url-pw-123@broker3.lan:1883' } });
    expect(set.status, set.text).toBe(200);
    const shown = await saved('mqtt.url');
    expect(shown.value).toBe('mqtt://***@broker3.lan:1883');
    expect(JSON.stringify((await admin.req('GET', '/api/v1/settings')).json)).not.toContain('url-pw-123');
    // The web form posts every field back as shown: the masked URL means "unchanged".
    const back = await admin.req('PUT', '/api/v1/settings', { changes: { 'mqtt.url': shown.value, 'mqtt.topicPrefix': 'site2' } });
    expect(back.status, back.text).toBe(200);
    expect(h.unit.settings.saved()['mqtt.url']).toBe('mqtt://door:url-pw-123@broker3.lan:1883');
    // A masked URL on another host cannot be "kept": its credentials would go there.
    const moved = await admin.req('PUT', '/api/v1/settings', { changes: { 'mqtt.url': 'mqtt://***@attacker.example:1883' } });
    expect(moved.status).toBe(400);
    expect(moved.json.message).toMatch(/mqtt\.url: .*enter the user name and password again/);
  });
});
