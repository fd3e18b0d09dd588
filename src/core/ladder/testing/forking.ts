// Test helper: a real forked INVITE. Kamailio (tm) forks one INVITE from a sipp UAC to two sipp
// UASs in parallel; the first rings then answers, the second rings then refuses with 486, so the
// caller sees two early dialogs (two 180s with different To-tags) on one Call-ID. Everything runs on
// loopback and is captured by tcpdump into a pcap file. Not used by production code.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

async function freeUdpPort(taken: number[]): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    const port = sock.address().port;
    await new Promise<void>((resolve) => sock.close(() => resolve()));
    if (!taken.includes(port)) return port;
  }
  throw new Error('no free UDP port');
}

const waitFor = (child: ChildProcess, re: RegExp, ms: number): Promise<void> =>
  new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${re}: ${buf.slice(-500)}`)), ms);
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (re.test(buf)) {
        clearTimeout(t);
        resolve();
      }
    });
  });

const exited = (child: ChildProcess, ms: number): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const t = setTimeout(() => resolve(null), ms);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });

const KAMAILIO_CFG = (port: number, uas1: number, uas2: number): string => `#!KAMAILIO
debug=1
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:${port}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "pv.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "corex.so"

request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
  if (has_totag()) {
    if (is_method("ACK") && t_check_trans()) { t_relay(); exit; }
    # no Record-Route in this test proxy: in-dialog requests go to the answering UAS
    $du = "sip:127.0.0.1:${uas1}";
    t_relay();
    exit;
  }
  if (is_method("INVITE")) {
    # parallel forking (RFC 3261 §16.6): two branches of one INVITE
    $ru = "sip:service@127.0.0.1:${uas1}";
    append_branch("sip:service@127.0.0.1:${uas2}");
    t_relay();
    exit;
  }
  sl_send_reply("405", "Method Not Allowed");
}
`;

const response = (status: string, tag: string, sdp = false): string => `
  <send>
    <![CDATA[
      SIP/2.0 ${status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=${tag}
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      ${sdp ? 'Content-Type: application/sdp\n      Content-Length: [len]\n\n      v=0\n      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      m=audio [media_port] RTP/AVP 0\n      a=rtpmap:0 PCMU/8000' : 'Content-Length: 0'}
    ]]>
  </send>`;

const UAS_ANSWER = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ring, then answer">
  <recv request="INVITE" crlf="true"/>
  ${response('180 Ringing', '[pid]Answer[call_number]')}
  <pause milliseconds="300"/>
  ${response('200 OK', '[pid]Answer[call_number]', true)}
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
</scenario>`;

const UAS_BUSY = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ring, then busy">
  <recv request="INVITE" crlf="true"/>
  ${response('180 Ringing', '[pid]Busy[call_number]')}
  ${response('486 Busy Here', '[pid]Busy[call_number]')}
  <recv request="ACK"/>
</scenario>`;

const request = (first: string, cseq: string, extra = ''): string => `
  <send retrans="500">
    <![CDATA[
      ${first} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]Caller[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>${first === 'INVITE' ? '' : '[peer_tag_param]'}
      Call-ID: [call_id]
      CSeq: ${cseq}
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      ${extra || 'Content-Length: 0'}
    ]]>
  </send>`;

const UAC = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call through a forking proxy">
  ${request('INVITE', '1 INVITE', 'Content-Type: application/sdp\n      Content-Length: [len]\n\n      v=0\n      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      m=audio [media_port] RTP/AVP 0\n      a=rtpmap:0 PCMU/8000')}
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  ${request('ACK', '1 ACK').replace('send retrans="500"', 'send')}
  <pause milliseconds="200"/>
  ${request('BYE', '2 BYE')}
  <recv response="200" crlf="true"/>
</scenario>`;

export interface ForkCapture {
  pcap: string;
  ports: { uac: number; proxy: number; answer: number; busy: number };
  uacExit: number | null;
}

/** Runs the forked call and returns the pcap of everything on the four SIP ports. */
export async function captureForkedCall(): Promise<ForkCapture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-fork-'));
  const taken: number[] = [];
  for (let i = 0; i < 4; i++) taken.push(await freeUdpPort(taken));
  const [uac, proxy, answer, busy] = taken;
  fs.writeFileSync(path.join(dir, 'k.cfg'), KAMAILIO_CFG(proxy, answer, busy));
  fs.writeFileSync(path.join(dir, 'answer.xml'), UAS_ANSWER);
  fs.writeFileSync(path.join(dir, 'busy.xml'), UAS_BUSY);
  fs.writeFileSync(path.join(dir, 'uac.xml'), UAC);
  const pcap = path.join(dir, 'fork.pcap');
  const procs: ChildProcess[] = [];
  const start = (cmd: string, args: string[]): ChildProcess => {
    const p = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.resume();
    procs.push(p);
    return p;
  };
  try {
    const dump = start('tcpdump', [
      '-i', 'lo', '--immediate-mode', '-U', '-n', '-s', '4096', '-B', '8192', '-Z', 'root', '-w', pcap,
      `udp and (port ${uac} or port ${proxy} or port ${answer} or port ${busy})`,
    ]);
    await waitFor(dump, /listening on/, 10_000);
    const kam = start('kamailio', ['-f', path.join(dir, 'k.cfg'), '-Y', dir, '-E', '-DD', '-m', '64', '-M', '8']);
    kam.stderr!.on('data', () => undefined);
    await new Promise((r) => setTimeout(r, 500)); // kamailio binds at once; give its worker a moment
    if (kam.exitCode !== null) throw new Error(`kamailio exited with ${kam.exitCode}`);
    const sippArgs = (sf: string, port: number): string[] => ['-sf', sf, '-i', '127.0.0.1', '-p', String(port), '-m', '1', '-nostdin', '-timeout', '20s'];
    const a = start('sipp', sippArgs('answer.xml', answer));
    const b = start('sipp', sippArgs('busy.xml', busy));
    await new Promise((r) => setTimeout(r, 300));
    const c = start('sipp', [...sippArgs('uac.xml', uac), '-s', 'service', `127.0.0.1:${proxy}`]);
    const uacExit = await exited(c, 25_000);
    await Promise.all([exited(a, 5000), exited(b, 5000)]);
    await new Promise((r) => setTimeout(r, 300)); // the last packets reach the pcap
    dump.kill('SIGINT');
    await exited(dump, 5000);
    return { pcap, ports: { uac, proxy, answer, busy }, uacExit };
  } finally {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  }
}
