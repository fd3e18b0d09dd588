// Records the seed capture of the sipp corpus: real SIP and RTP between sipp instances on
// 127.0.0.1, captured by tcpdump on lo. Calls (built-in uac against built-in uas), registrations
// with a digest challenge (scenarios written below), and one call with G.711 RTP and RFC 2833 DTMF
// (uac_pcap against a uas with -rtp_echo). Ports 5097–5099 and media 16000–16299 keep clear of tests.
// Real traffic is not deterministic (tags, branches, timing): the recording is cached and the
// corpus is a deterministic function of (recording, seed, parameters).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, stop, waitFor } from '../lib/proc.js';

export const SIP_PORTS = [5097, 5098, 5099];
export const MEDIA_LOW = 16000;
export const MEDIA_HIGH = 16299;
export const CALLEE_USER = 'service';

const REG_UAC = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="tunaio bench register client">
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      From: <sip:reguser@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:reguser@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:reguser@[local_ip]:[local_port]>
      Expires: 3600
      User-Agent: tunaio-bench
      Content-Length: 0

    ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      From: <sip:reguser@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:reguser@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:reguser@[local_ip]:[local_port]>
      [authentication username=reguser password=secret]
      Expires: 3600
      User-Agent: tunaio-bench
      Content-Length: 0

    ]]></send>
  <recv response="200"/>
</scenario>
`;

const REG_UAS = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="tunaio bench registrar">
  <recv request="REGISTER"/>
  <send><![CDATA[
      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="bench.test", nonce="[call_number]a7c1e0b2", algorithm=MD5
      Content-Length: 0

    ]]></send>
  <recv request="REGISTER"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:reguser@[remote_ip]:[remote_port]>;expires=3600
      Content-Length: 0

    ]]></send>
</scenario>
`;

export interface RecordOptions {
  calls: number;
  registrations: number;
}

/** Records into `out` (via a temp file, so a crash never leaves a half seed behind). */
export async function recordSeed(dir: string, out: string, o: RecordOptions): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'reg-uac.xml'), REG_UAC);
  writeFileSync(join(dir, 'reg-uas.xml'), REG_UAS);
  if (!existsSync(join(dir, 'pcap'))) symlinkSync('/usr/share/sip-tester', join(dir, 'pcap'));
  const tmp = `${out}.part`;
  const filter = `${SIP_PORTS.map((p) => `udp port ${p}`).join(' or ')} or udp portrange ${MEDIA_LOW}-${MEDIA_HIGH}`;
  const tcpdump = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-s', '8192', '-B', '16384', '-Z', 'root', '-w', tmp, filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const servers: number[] = [];
  try {
    await waitFor(tcpdump, /listening on/);
    const bg = async (args: string[]): Promise<void> => {
      const r = await run('sipp', [...args, '-bg'], { cwd: dir, timeoutS: 10 });
      const m = /PID=\[(\d+)\]/.exec(r.stdout + r.stderr);
      if (m === null) throw new Error(`sipp ${args.join(' ')} did not start: ${r.stdout}${r.stderr}`);
      servers.push(Number(m[1]));
    };
    await bg(['-sn', 'uas', '-i', '127.0.0.1', '-p', '5097', '-rtp_echo', '-mp', String(MEDIA_LOW)]);
    await bg(['-sf', 'reg-uas.xml', '-i', '127.0.0.1', '-p', '5099']);
    const client = async (args: string[]): Promise<void> => {
      const r = await run('sipp', [...args, '-i', '127.0.0.1', '-p', '5098', '-nostdin', '-timeout', '60s'], { cwd: dir, timeoutS: 90 });
      if (r.code !== 0) throw new Error(`sipp ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-500)}`);
    };
    await client(['-sf', 'reg-uac.xml', '127.0.0.1:5099', '-m', String(o.registrations), '-r', '20', '-au', 'reguser', '-ap', 'secret']);
    await client(['-sn', 'uac', '127.0.0.1:5097', '-s', CALLEE_USER, '-m', String(o.calls), '-r', '20']);
    await client(['-sn', 'uac_pcap', '127.0.0.1:5097', '-s', CALLEE_USER, '-m', '1', '-mp', String(MEDIA_LOW + 100)]);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    for (const pid of servers) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await stop(tcpdump);
  }
  renameSync(tmp, out);
}
