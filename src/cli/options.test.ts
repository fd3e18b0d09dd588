import { describe, expect, it } from 'vitest';
import { envName, parseCommand, renderHelp, UsageError, type CommandSpec } from './options.js';
import { commands } from './commands/index.js';

const spec: CommandSpec = {
  name: 'demo',
  summary: 'demo',
  usage: 'tunaio demo',
  options: [
    { name: 'port', type: 'number', default: 8080, help: 'port' },
    { name: 'host', type: 'string', default: '127.0.0.1', help: 'host' },
    { name: 'json', type: 'boolean', help: 'json' },
    { name: 'interface', type: 'string', multiple: true, help: 'iface' },
    { name: 'provider-ip', type: 'string', help: 'ip' },
  ],
};

describe('option parsing', () => {
  it('takes the flag over the environment twin over the default', () => {
    expect(parseCommand(spec, [], {}).values.port).toBe(8080);
    expect(parseCommand(spec, [], { TUNAIO_PORT: '9000' }).values.port).toBe(9000);
    expect(parseCommand(spec, ['--port', '9100'], { TUNAIO_PORT: '9000' }).values.port).toBe(9100);
  });

  it('derives environment names from flags', () => {
    expect(envName(spec.options[4])).toBe('TUNAIO_PROVIDER_IP');
    expect(parseCommand(spec, [], { TUNAIO_PROVIDER_IP: '10.0.0.0/8' }).values['provider-ip']).toBe('10.0.0.0/8');
  });

  it('collects repeatable options from flags or a comma-separated variable', () => {
    expect(parseCommand(spec, ['--interface', 'lo', '--interface', 'eth0'], {}).values.interface).toEqual(['lo', 'eth0']);
    expect(parseCommand(spec, [], { TUNAIO_INTERFACE: 'lo, any' }).values.interface).toEqual(['lo', 'any']);
    expect(parseCommand(spec, [], {}).values.interface).toEqual([]);
  });

  it('reads booleans from the environment strictly', () => {
    expect(parseCommand(spec, [], { TUNAIO_JSON: 'true' }).values.json).toBe(true);
    expect(parseCommand(spec, [], { TUNAIO_JSON: '0' }).values.json).toBe(false);
    expect(() => parseCommand(spec, [], { TUNAIO_JSON: 'maybe' })).toThrow(/TUNAIO_JSON expects true or false/);
  });

  it('rejects bad numbers, unknown flags and stray arguments with a usage error', () => {
    expect(() => parseCommand(spec, ['--port', 'eighty'], {})).toThrow(UsageError);
    expect(() => parseCommand(spec, ['--nope'], {})).toThrow(/nope/);
    expect(() => parseCommand(spec, ['file.pcap'], {})).toThrow(/unexpected argument "file.pcap"/);
  });

  it('answers --help', () => {
    expect(parseCommand(spec, ['--help'], {}).help).toBe(true);
    const text = renderHelp(spec);
    expect(text).toContain('--port NUMBER');
    expect(text).toContain('env TUNAIO_PORT');
  });

  it('gives every command a help text that names each of its options', () => {
    for (const c of commands) {
      const text = renderHelp(c.spec);
      for (const o of c.spec.options) expect(text).toContain(`--${o.name}`);
    }
  });
});
