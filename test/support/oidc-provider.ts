// A real OpenID Connect provider for tests (`oidc-provider`, the certified Node.js implementation) on a
// free loopback port. Its built-in development login form takes any password; the login name picks the
// account, whose claims the test gives (organisation and role claims included). Claims of the `tunaio`
// scope are released by the userinfo endpoint only, as most providers do for custom scopes, so the
// center's userinfo path is what runs.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** registers the callback URLs of the centers (call before the first login) */
  allowRedirects(uris: string[]): void;
  stop(): Promise<void>;
}

export type Accounts = Record<string, Record<string, unknown>>;

export async function startIdp(accounts: Accounts): Promise<TestIdp> {
  let handler: http.RequestListener = (_req, res) => {
    res.writeHead(503);
    res.end('not ready');
  };
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'tunaio-center';
  const clientSecret = 'idp-test-client-secret-0123456789';
  return {
    issuer,
    clientId,
    clientSecret,
    allowRedirects(uris) {
      const provider = new Provider(issuer, {
        clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: uris, grant_types: ['authorization_code'], response_types: ['code'] }],
        claims: { openid: ['sub'], profile: ['preferred_username'], tunaio: ['tunaio_org', 'tunaio_role'] },
        scopes: ['openid', 'profile', 'tunaio'],
        pkce: { required: () => true },
        cookies: { keys: ['idp-test-cookie-key-0123456789'] },
        ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
        features: { devInteractions: { enabled: true } },
        findAccount: (_ctx, sub) => {
          const claims = accounts[sub];
          if (!claims) return undefined;
          return { accountId: sub, claims: async () => ({ sub, ...claims }) };
        },
      });
      provider.on('server_error', (_ctx, err) => console.error('[idp]', err));
      handler = provider.callback();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
