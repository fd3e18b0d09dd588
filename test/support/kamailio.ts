// Test support: the Kamailio configuration the HEP tests run — a stateful proxy that relays every
// request to one next hop, mirrors all SIP as HEP through `siptrace` (when given a HEP port), and logs each request's
// Call-ID with xlog (MACHINE-NOTES "Kamailio as a real HEP source"). `npm test` installs Kamailio
// (scripts/ensure-system-deps.sh), so tests that use it never skip.

export interface KamailioTraceOptions {
  /** UDP port Kamailio listens on (127.0.0.1) */
  listenPort: number;
  /** where siptrace sends HEP (127.0.0.1); without it, no siptrace (a plain proxy) */
  hepPort?: number;
  /** where requests are relayed (127.0.0.1) */
  nextHopPort: number;
  hepVersion?: 2 | 3;
  captureId?: number;
  /** the routing script (request_route and its routes); default: log the Call-ID, relay to the next hop */
  routes?: string;
}

const relayRoute = (nextHopPort: number): string => `request_route {
	xlog("L_NOTICE", "routing $rm from $fU callid=$ci\\n");
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	if (is_method("INVITE")) record_route();
	$du = "sip:127.0.0.1:${nextHopPort}";
	t_relay();
}
`;

const siptrace = (hepPort: number, version: number, captureId: number): string => `loadmodule "siptrace.so"
modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:${hepPort}")
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", ${version})
modparam("siptrace", "hep_capture_id", ${captureId})
modparam("siptrace", "trace_mode", 1)
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "trace_on", 1)`;

export const kamailioTraceConfig = (o: KamailioTraceOptions): string => `#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:${o.listenPort}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "pv.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "xlog.so"
${o.hepPort === undefined ? '' : siptrace(o.hepPort, o.hepVersion ?? 3, o.captureId ?? 2001)}
${o.routes ?? relayRoute(o.nextHopPort)}`;
