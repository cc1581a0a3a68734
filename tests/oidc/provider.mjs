// A real OpenID Provider for the single sign-on tests (tests/it/sso.rs): oidc-provider, an
// OpenID Certified implementation, on loopback. Its development login takes any account id
// (the test logs in as an email); an account id starting with "lav." gets assurance "low",
// every other "substantial" (claim `loa`, scope `nsis`).
//
// Usage: node provider.mjs PORT REDIRECT_URI POST_LOGOUT_URI
//
// For the refusal tests, POST /__mode?set=MODE makes the token endpoint answer with an ID token
// that is tampered with (a claim changed, signature kept), for another audience, from another
// issuer, expired, or the previous login's (its nonce replayed); `normal` undoes it. The bad
// tokens other than the tampered one are signed with the provider's own key, so only the claim
// is wrong.
import Provider from 'oidc-provider';
import * as jose from 'jose';

const [port, redirect, postLogout] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'trivsel-test', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'trivsel',
    client_secret: 'hemmelig-klient-til-test',
    redirect_uris: [redirect],
    post_logout_redirect_uris: [postLogout],
    response_types: ['code'],
    grant_types: ['authorization_code'],
  }],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'nsis'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], nsis: ['loa'] },
  conformIdTokenClaims: false,
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id,
      email: id.replace(/^lav\./, ''),
      email_verified: true,
      loa: id.startsWith('lav.') ? 'low' : 'substantial',
    }),
  }),
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
});

let mode = 'normal';
let previous = null;

provider.use(async (ctx, next) => {
  if (ctx.path === '/__mode' && ctx.method === 'POST') {
    mode = ctx.query.set;
    ctx.body = 'ok';
    return;
  }
  await next();
  if (ctx.path !== '/token' || ctx.status !== 200 || !ctx.body || !ctx.body.id_token) {
    return;
  }
  const token = ctx.body.id_token;
  const claims = jose.decodeJwt(token);
  const now = Math.floor(Date.now() / 1000);
  const sign = (c) => new jose.SignJWT(c)
    .setProtectedHeader({ alg: 'RS256', kid: 'trivsel-test' })
    .sign(privateKey);
  switch (mode) {
    case 'tampered': {
      const [h, , s] = token.split('.');
      const changed = Buffer.from(JSON.stringify({ ...claims, email: 'admin@test.dk' })).toString('base64url');
      ctx.body.id_token = [h, changed, s].join('.');
      break;
    }
    case 'audience':
      ctx.body.id_token = await sign({ ...claims, aud: 'en-anden-klient' });
      break;
    case 'issuer':
      ctx.body.id_token = await sign({ ...claims, iss: 'http://127.0.0.1:9/' });
      break;
    case 'expired':
      ctx.body.id_token = await sign({ ...claims, iat: now - 7200, exp: now - 3600 });
      break;
    case 'replay':
      if (previous) {
        ctx.body.id_token = previous;
      }
      break;
    default:
      break;
  }
  previous = token;
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log('ready');
});
