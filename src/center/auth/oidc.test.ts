// The claim mapping of single sign-on (docs/organisations.md "Claim mapping"): every way a provider's
// claims can fail to name an organisation and a role is refused with its reason, never defaulted.
import { describe, expect, it } from 'vitest';
import { SsoRefused, mapClaims } from './oidc.js';

const cfg = { issuer: 'https://idp.example', orgClaim: 'org', roleClaim: 'role', usernameClaim: 'preferred_username' };

describe('mapClaims', () => {
  it('maps organisation, role and user name; the subject ties later logins together', () => {
    expect(mapClaims({ sub: 's1', org: ' acme ', role: 'operator', preferred_username: 'ann' }, cfg)).toEqual({
      subject: 'https://idp.example s1',
      username: 'ann',
      orgName: 'acme',
      role: 'operator',
    });
    // no user name claim: the subject is the name
    expect(mapClaims({ sub: 's2', org: 'acme', role: 'viewer' }, cfg).username).toBe('s2');
    // a list: the strongest TunaIO role named; other values ignored
    expect(mapClaims({ sub: 's3', org: 'acme', role: ['noc', 'viewer', 'org_admin'] }, cfg).role).toBe('org_admin');
  });

  it.each([
    [{ org: 'acme', role: 'viewer' }, /no subject/],
    [{ sub: 's', role: 'viewer' }, /claim "org" is missing/],
    [{ sub: 's', org: 42, role: 'viewer' }, /claim "org" is not a name/],
    [{ sub: 's', org: 'acme' }, /no role: claim "role"/],
    [{ sub: 's', org: 'acme', role: [] }, /no role/],
    [{ sub: 's', org: 'acme', role: 'admin' }, /names no TunaIO role \("admin"\)/],
    [{ sub: 's', org: 'acme', role: 'platform_admin' }, /never gives/],
    [{ sub: 's', org: 'acme', role: ['viewer', 'platform_admin'] }, /never gives/],
    [{ sub: 's', org: 'acme', role: { viewer: true } }, /no role/],
  ])('refuses %j', (claims, reason) => {
    expect(() => mapClaims(claims as Record<string, unknown>, cfg)).toThrow(SsoRefused);
    expect(() => mapClaims(claims as Record<string, unknown>, cfg)).toThrow(reason);
  });
});
