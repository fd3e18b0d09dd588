// `PROTO:HOST:PORT` option values of the collectors (`--esl tcp:127.0.0.1:8021`, `--syslog
// udp:0.0.0.0:514`); IPv6 hosts in brackets. Throws RangeError with a message naming the option.

export interface EndpointSpec {
  proto: string;
  host: string;
  port: number;
}

export function parseEndpointSpec(option: string, spec: string, protos: string[], defaultHost: string): EndpointSpec {
  const m = /^([a-z]+):(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/i.exec(spec.trim());
  const example = `${protos[0]}:${defaultHost}:PORT`;
  if (!m || !protos.includes(m[1].toLowerCase())) throw new RangeError(`--${option} expects ${protos.map((p) => `${p}:HOST:PORT`).join(' or ')} (e.g. ${example}), got "${spec}"`);
  const port = Number(m[4]);
  if (port > 65535) throw new RangeError(`--${option} port must be 0-65535, got ${port}`);
  return { proto: m[1].toLowerCase(), host: m[2] ?? (m[3] || defaultHost), port };
}
