// Test support: an event socket (FreeSWITCH mod_event_socket) and a manager interface (Asterisk AMI)
// that speak their wire protocols byte for byte as the documentation and public captures show them:
// ESL's `Content-Type: auth/request`, `command/reply` with `+OK accepted` / `-ERR invalid`, the
// disconnect notice, `text/event-plain` events with Content-Length and URL-encoded values; AMI's
// banner line, `Action: Login` answered `Response: Success` / `Error` with `Message: Authentication
// failed`, Ping/Pong, CRLF-framed events. They can refuse a password, drop every connection, or stall
// (accept and say nothing, or stop answering). Not shipped (tsconfig.build excludes testing/).
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

abstract class LineServer {
  protected server: Server | undefined;
  readonly conns = new Set<Socket>();
  port = 0;
  /** accept connections but never speak (a hung process behind a live socket) */
  stallOnConnect = false;
  /** after login, stop answering anything (keepalives included) */
  stallAfterLogin = false;
  logins = 0;
  failedLogins = 0;
  received: string[] = [];

  async start(port = 0): Promise<void> {
    this.server = createServer((s) => {
      this.conns.add(s);
      s.on('close', () => this.conns.delete(s));
      s.on('error', () => undefined);
      if (this.stallOnConnect) return;
      this.greet(s);
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        for (let m = this.frame(buf); m; m = this.frame(buf)) {
          buf = buf.slice(m.length);
          this.received.push(m.text);
          this.onRequest(s, m.text);
        }
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** the authenticated connections */
  protected readonly authed = new Set<Socket>();

  dropAll(): void {
    for (const s of this.conns) s.destroy();
    this.authed.clear();
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  protected broadcast(text: string): number {
    let n = 0;
    for (const s of this.authed) {
      if (!s.destroyed) {
        s.write(text);
        n++;
      }
    }
    return n;
  }

  protected abstract greet(s: Socket): void;
  protected abstract frame(buf: string): { text: string; length: number } | null;
  protected abstract onRequest(s: Socket, text: string): void;
}

export class FakeEventSocket extends LineServer {
  constructor(public password = 'ClueCon') {
    super();
  }

  protected greet(s: Socket): void {
    s.write('Content-Type: auth/request\n\n');
  }

  protected frame(buf: string): { text: string; length: number } | null {
    const i = buf.indexOf('\n\n');
    return i < 0 ? null : { text: buf.slice(0, i), length: i + 2 };
  }

  private readonly subscribed = new WeakSet<Socket>();

  protected onRequest(s: Socket, text: string): void {
    // stalls once events flow: the keepalive re-subscriptions go unanswered
    if (this.stallAfterLogin && this.subscribed.has(s)) return;
    if (text.startsWith('auth ')) {
      if (text.slice(5) === this.password) {
        this.logins++;
        this.authed.add(s);
        s.write('Content-Type: command/reply\nReply-Text: +OK accepted\n\n');
      } else {
        this.failedLogins++;
        s.write('Content-Type: command/reply\nReply-Text: -ERR invalid\n\n');
        const bye = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';
        s.end(`Content-Type: text/disconnect-notice\nContent-Length: ${Buffer.byteLength(bye)}\n\n${bye}`);
      }
    } else if (text.startsWith('event plain ')) {
      this.subscribed.add(s);
      s.write('Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n');
    } else {
      s.write('Content-Type: command/reply\nReply-Text: -ERR command not found\n\n');
    }
  }

  /** An event as mod_event_socket writes it: URL-encoded header values, the body framed by Content-Length. */
  sendEvent(headers: Record<string, string>): number {
    const body = Object.entries(headers)
      .map(([k, v]) => `${k}: ${encodeURIComponent(v)}\n`)
      .join('') + '\n';
    return this.broadcast(`Content-Length: ${Buffer.byteLength(body)}\nContent-Type: text/event-plain\n\n${body}`);
  }
}

export class FakeManager extends LineServer {
  constructor(
    public user = 'tunaio',
    public secret = 's3cret',
  ) {
    super();
  }

  protected greet(s: Socket): void {
    s.write('Asterisk Call Manager/5.0.1\r\n');
  }

  protected frame(buf: string): { text: string; length: number } | null {
    const i = buf.indexOf('\r\n\r\n');
    return i < 0 ? null : { text: buf.slice(0, i), length: i + 4 };
  }

  protected onRequest(s: Socket, text: string): void {
    if (this.stallAfterLogin && this.authed.has(s)) return;
    const f = new Map(text.split('\r\n').map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const id = f.get('actionid') ?? '';
    const action = (f.get('action') ?? '').toLowerCase();
    if (action === 'login') {
      if (f.get('username') === this.user && f.get('secret') === this.secret) {
        this.logins++;
        this.authed.add(s);
        s.write(`Response: Success\r\nActionID: ${id}\r\nMessage: Authentication accepted\r\n\r\n`);
        s.write('Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 12\r\nLastReload: 12\r\nStatus: Fully Booted\r\n\r\n');
      } else {
        this.failedLogins++;
        // manager.c answers a failed login with an error and closes the session
        s.end(`Response: Error\r\nActionID: ${id}\r\nMessage: Authentication failed\r\n\r\n`);
      }
    } else if (action === 'ping') {
      s.write(`Response: Success\r\nActionID: ${id}\r\nPing: Pong\r\nTimestamp: ${(Date.now() / 1000).toFixed(6)}\r\n\r\n`);
    } else {
      s.write(`Response: Error\r\nActionID: ${id}\r\nMessage: Invalid/unknown command\r\n\r\n`);
    }
  }

  /** An event, CRLF-framed; repeated keys (ChanVariable) as an array of pairs. */
  sendEvent(fields: [string, string][]): number {
    return this.broadcast(fields.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
  }
}
