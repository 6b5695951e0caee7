import type { Topics } from './topics.js';

/**
 * Home Assistant MQTT discovery: one retained config per entity under
 * `<discoveryPrefix>/<component>/blink_<unit>/<object>/config`, all grouped under one
 * device and made unavailable by the unit's `status` topic (the last will). Required keys
 * per platform (Home Assistant's MQTT schemas): lock, switch and button need
 * command_topic; binary_sensor, sensor and event need state_topic; event needs
 * event_types; entities grouped under a device need unique_id and device.identifiers.
 */
export interface DiscoveryMessage {
  topic: string;
  payload: string;
}

export interface DiscoveryInfo {
  discoveryPrefix: string;
  unitId: string;
  unitName: string;
  version: string;
}

type Entity = { component: string; object: string; config: Record<string, unknown> };

export function discoveryMessages(t: Topics, info: DiscoveryInfo): DiscoveryMessage[] {
  const node = `blink_${info.unitId}`;
  const device = {
    identifiers: [node],
    name: info.unitName,
    manufacturer: 'BLINK',
    model: 'BLINK Edge face-authentication door unit',
    sw_version: info.version,
  };
  const availability = [{ topic: t.status, payload_available: 'online', payload_not_available: 'offline' }];
  const origin = { name: 'blinkd', sw_version: info.version };
  const entities: Entity[] = [
    {
      component: 'lock',
      object: 'door',
      config: {
        name: 'Door',
        command_topic: t.command('lock'),
        state_topic: t.lockState,
        payload_lock: 'LOCK',
        payload_unlock: 'UNLOCK',
        payload_open: 'OPEN',
        state_locked: 'LOCKED',
        state_unlocked: 'UNLOCKED',
        qos: 1,
        retain: false,
      },
    },
    {
      component: 'binary_sensor',
      object: 'door_open',
      config: {
        name: 'Door open',
        device_class: 'door',
        state_topic: t.doorState,
        value_template: "{{ {'open': 'ON', 'closed': 'OFF'}.get(value_json.contact, 'None') }}",
        payload_on: 'ON',
        payload_off: 'OFF',
      },
    },
    {
      component: 'binary_sensor',
      object: 'alarm',
      config: {
        name: 'Alarm',
        device_class: 'problem',
        state_topic: t.alarmState,
        value_template: "{{ 'ON' if value_json.active | length > 0 else 'OFF' }}",
        json_attributes_topic: t.alarmState,
        payload_on: 'ON',
        payload_off: 'OFF',
      },
    },
    {
      component: 'binary_sensor',
      object: 'connectivity',
      config: {
        name: 'Connectivity',
        device_class: 'connectivity',
        entity_category: 'diagnostic',
        state_topic: t.status,
        payload_on: 'online',
        payload_off: 'offline',
      },
    },
    {
      component: 'sensor',
      object: 'last_person',
      config: {
        name: 'Last person',
        icon: 'mdi:account-check',
        state_topic: t.stats,
        value_template: "{{ value_json.lastPerson.name if value_json.lastPerson else 'None' }}",
        json_attributes_topic: t.stats,
        json_attributes_template: '{{ value_json.lastPerson | tojson }}',
      },
    },
    {
      component: 'sensor',
      object: 'granted_today',
      config: {
        name: 'Granted today',
        icon: 'mdi:door-open',
        state_topic: t.stats,
        value_template: '{{ value_json.today.granted }}',
        state_class: 'total_increasing',
      },
    },
    {
      component: 'sensor',
      object: 'denied_today',
      config: {
        name: 'Denied today',
        icon: 'mdi:account-cancel',
        state_topic: t.stats,
        value_template: '{{ value_json.today.denied }}',
        state_class: 'total_increasing',
      },
    },
    {
      component: 'sensor',
      object: 'outbox_depth',
      config: {
        name: 'MQTT outbox depth',
        entity_category: 'diagnostic',
        state_topic: t.health,
        value_template: '{{ value_json.outbox.depth }}',
        state_class: 'measurement',
      },
    },
    {
      component: 'event',
      object: 'access',
      config: { name: 'Access', icon: 'mdi:face-recognition', state_topic: t.access, event_types: ['granted', 'denied'] },
    },
    {
      component: 'switch',
      object: 'lockdown',
      config: {
        name: 'Lockdown',
        icon: 'mdi:lock-alert',
        command_topic: t.command('lockdown'),
        state_topic: t.doorState,
        value_template: "{{ 'ON' if value_json.mode == 'lockdown' else 'OFF' }}",
        payload_on: 'ON',
        payload_off: 'OFF',
        state_on: 'ON',
        state_off: 'OFF',
      },
    },
    {
      component: 'switch',
      object: 'held_unlocked',
      config: {
        name: 'Held unlocked',
        icon: 'mdi:lock-open-variant',
        command_topic: t.command('held_unlocked'),
        state_topic: t.doorState,
        value_template: "{{ 'ON' if value_json.mode == 'held_unlocked' else 'OFF' }}",
        payload_on: 'ON',
        payload_off: 'OFF',
        state_on: 'ON',
        state_off: 'OFF',
      },
    },
    {
      component: 'button',
      object: 'reload_people',
      config: { name: 'Reload people', entity_category: 'config', command_topic: t.command('reload_people'), payload_press: 'PRESS' },
    },
    {
      component: 'button',
      object: 'request_health',
      config: { name: 'Report health', entity_category: 'diagnostic', command_topic: t.command('request_health'), payload_press: 'PRESS' },
    },
  ];
  const prefix = info.discoveryPrefix.replace(/\/+$/, '');
  return entities.map((e) => {
    const withAvailability = e.object === 'connectivity' ? {} : { availability, availability_mode: 'latest' };
    const config = { ...e.config, unique_id: `${node}_${e.object}`, device, origin, ...withAvailability };
    return { topic: `${prefix}/${e.component}/${node}/${e.object}/config`, payload: JSON.stringify(config) };
  });
}

/** The topic Home Assistant announces itself on (its birth message `online`). */
export function homeAssistantStatusTopic(discoveryPrefix: string): string {
  return `${discoveryPrefix.replace(/\/+$/, '')}/status`;
}
