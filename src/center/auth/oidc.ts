// Single sign-on by OpenID Connect (docs/organisations.md "Single sign-on"): the authorization code
// flow with PKCE (RFC 7636), state and nonce, through `openid-client`. This file knows the provider
// and the claim mapping; routes/auth/sso.ts keeps the logins in flight in the database (so the
// provider's redirect may land on any center) and makes the login session.
import * as client from 'openid-client';
import { ROLES } from '../../core/schema/index.js';
import type { Role } from '../../core/schema/index.js';

export interface OidcConfig {
  /** the provider's issuer URL; its discovery document is `<issuer>/.well-known/openid-configuration` */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** claim naming the user's organisation (by name) */
  orgClaim: string;
  /** claim naming the user's role: viewer, operator or org_admin (or a list holding some of them) */
  roleClaim: string;
  /** claim giving the user name (falls back to `sub`) */
  usernameClaim: string;
  /** scopes asked for, `openid` included */
  scopes: string;
  /** shown on the login button */
  name: string;
}

export const OIDC_DEFAULTS = {
  orgClaim: 'tunaio_org',
  roleClaim: 'tunaio_role',
  usernameClaim: 'preferred_username',
  scopes: 'openid profile',
  name: 'single sign-on',
} as const;

/** Roles single sign-on may give: a platform admin logs in with a local password, never through a provider. */
export const SSO_ROLES: readonly Role[] = ['viewer', 'operator', 'org_admin'];

/** A refusal of a login the provider vouched for: the message is shown to the person on the login page. */
export class SsoRefused extends Error {}

export interface MappedIdentity {
  /** `<issuer> <sub>`: what ties later logins to the same user */
  subject: string;
  username: string;
  orgName: string;
  role: Role;
}

/**
 * The claims → who and what (the rules of docs/organisations.md "Claim mapping"). Anything missing,
 * unknown or ambiguous is refused with a message saying which claim and why; nothing falls back to a
 * default role or organisation.
 */
export function mapClaims(claims: Record<string, unknown>, cfg: Pick<OidcConfig, 'issuer' | 'orgClaim' | 'roleClaim' | 'usernameClaim'>): MappedIdentity {
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub === '') throw new SsoRefused('the identity provider sent no subject (sub)');
  const org = claims[cfg.orgClaim];
  if (typeof org !== 'string' || org.trim() === '') {
    throw new SsoRefused(`the identity provider sent no organisation: claim "${cfg.orgClaim}" is ${org === undefined ? 'missing' : 'not a name'}`);
  }
  const raw = claims[cfg.roleClaim];
  const values = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw.filter((v): v is string => typeof v === 'string') : [];
  if (values.length === 0) throw new SsoRefused(`the identity provider sent no role: claim "${cfg.roleClaim}" is missing or empty`);
  if (values.includes('platform_admin')) {
    throw new SsoRefused(`claim "${cfg.roleClaim}" asks for platform_admin, which single sign-on never gives: platform admins log in with a password`);
  }
  const known = values.filter((v): v is Role => (SSO_ROLES as readonly string[]).includes(v));
  if (known.length === 0) {
    throw new SsoRefused(`claim "${cfg.roleClaim}" names no TunaIO role (${values.slice(0, 5).map((v) => JSON.stringify(v)).join(', ')}); expected one of ${SSO_ROLES.join(', ')}`);
  }
  // a list (e.g. groups) may name several: the strongest one named wins
  const role = known.reduce((a, b) => (ROLES.indexOf(a) >= ROLES.indexOf(b) ? a : b));
  const name = claims[cfg.usernameClaim];
  const username = typeof name === 'string' && name.trim() !== '' ? name.trim() : sub;
  return { subject: `${cfg.issuer} ${sub}`, username, orgName: org.trim(), role };
}

export interface LoginStart {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** The provider as this center talks to it; discovery happens at the first login and is retried after a failure. */
export class OidcProvider {
  private config: Promise<client.Configuration> | null = null;

  constructor(readonly cfg: OidcConfig) {}

  private discover(): Promise<client.Configuration> {
    if (!this.config) {
      const url = new URL(this.cfg.issuer);
      // plain http only to a provider on this machine (tests, a local proxy); anything else needs https
      const loopback = url.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
      this.config = client
        // client_secret_basic: the default token endpoint authentication of OpenID Connect clients
        .discovery(url, this.cfg.clientId, undefined, client.ClientSecretBasic(this.cfg.clientSecret), loopback ? { execute: [client.allowInsecureRequests] } : undefined)
        .catch((e: unknown) => {
          this.config = null;
          throw e;
        });
    }
    return this.config;
  }

  async start(redirectUri: string): Promise<LoginStart> {
    const config = await this.discover();
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.cfg.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, state, nonce, codeVerifier };
  }

  /**
   * Exchanges the code of the provider's redirect (`callbackUrl`, the redirect URI with its query) for
   * tokens, checks state, nonce and the ID token, and returns the claims: the ID token's, completed from
   * the userinfo endpoint when the mapped claims are not in it.
   */
  async finish(callbackUrl: URL, expected: { state: string; nonce: string; codeVerifier: string }): Promise<Record<string, unknown>> {
    const config = await this.discover();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: expected.codeVerifier,
      expectedState: expected.state,
      expectedNonce: expected.nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims() as Record<string, unknown> | undefined;
    if (!idClaims) throw new SsoRefused('the identity provider sent no ID token');
    if (this.cfg.orgClaim in idClaims && this.cfg.roleClaim in idClaims) return idClaims;
    const info = await client.fetchUserInfo(config, tokens.access_token, String(idClaims.sub));
    return { ...info, ...idClaims };
  }
}
