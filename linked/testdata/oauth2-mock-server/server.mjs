// An OAuth 2.0 authorization server for the linked accounts tests:
// oauth2-mock-server (discovery, authorization code with PKCE, token with
// refresh, revocation, JWKS, signed ID tokens) with a little state of its
// own, so that it answers as a provider would and a test can steer it.
//
// It listens on 127.0.0.1 (a free port) and prints its issuer URL as its
// first line on stdout; it exits when stdin closes.
//
// The person signing in is the authorization request's login_hint (the ID
// token's email). A grant keeps the scopes asked for; its refresh tokens
// rotate, and a refresh token used, revoked or unknown is refused with
// invalid_grant.
//
// Controls, on the same port:
//   POST /control  {"withhold": "a b", "refuse_refresh": true}
//                  from now on, token responses grant the grant's scopes
//                  less those withheld, and refreshes are refused with
//                  invalid_grant; {} goes back to normal.
//   GET  /revoked  the revocation requests seen at /revoke, in order:
//                  [{"token": …, "token_type_hint": …, "client_id": …}]
import { createServer } from 'node:http';
import { Events, OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const issuer = new OAuth2Issuer();
await issuer.keys.generate('RS256');
const service = new OAuth2Service(issuer);

const codes = new Map(); // authorization code -> {scope, email}
const refreshTokens = new Map(); // live refresh token -> {scope, email}
const revoked = [];
let control = { withhold: [], refuseRefresh: false };

service.on(Events.BeforeAuthorizeRedirect, ({ url }, req) => {
  const code = url.searchParams.get('code');
  if (code) {
    codes.set(code, { scope: String(req.query.scope ?? ''), email: String(req.query.login_hint ?? '') });
  }
});

// The grant a token request is for: its code's or its refresh token's.
function grantOf(body) {
  if (body.grant_type === 'authorization_code') return codes.get(body.code);
  if (body.grant_type === 'refresh_token') return refreshTokens.get(body.refresh_token);
  return undefined;
}

function granted(grant) {
  return grant.scope.split(' ').filter((s) => s && !control.withhold.includes(s)).join(' ');
}

service.on(Events.BeforeTokenSigning, (token, req) => {
  const grant = grantOf(req.body);
  if (!grant) return;
  token.payload.scope = granted(grant);
  if (grant.email) Object.assign(token.payload, { email: grant.email, email_verified: true });
});

service.on(Events.BeforeResponse, (response, req) => {
  const body = req.body;
  const grant = grantOf(body);
  if (body.grant_type === 'authorization_code') codes.delete(body.code);
  if (body.grant_type === 'refresh_token') refreshTokens.delete(body.refresh_token);
  if (!grant || (body.grant_type === 'refresh_token' && control.refuseRefresh)) {
    response.statusCode = 400;
    response.body = { error: 'invalid_grant', error_description: 'the grant is not valid' };
    return;
  }
  if (response.statusCode !== 200) return;
  const scope = granted(grant);
  response.body.scope = scope;
  if (response.body.refresh_token) refreshTokens.set(response.body.refresh_token, { ...grant, scope });
});

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res, status, value) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(value));
}

const server = createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  try {
    if (req.method === 'POST' && path === '/revoke') {
      // Recorded, then answered by oauth2-mock-server's endpoint (which
      // does not read the body).
      const form = new URLSearchParams(await readBody(req));
      const token = form.get('token') ?? '';
      revoked.push({ token, token_type_hint: form.get('token_type_hint') ?? '', client_id: form.get('client_id') ?? '' });
      refreshTokens.delete(token);
    } else if (req.method === 'POST' && path === '/control') {
      const c = JSON.parse((await readBody(req)) || '{}');
      control = { withhold: String(c.withhold ?? '').split(' ').filter(Boolean), refuseRefresh: c.refuse_refresh === true };
      return json(res, 200, control);
    } else if (req.method === 'GET' && path === '/revoked') {
      return json(res, 200, revoked);
    }
  } catch (err) {
    return json(res, 400, { error: String(err) });
  }
  service.requestHandler(req, res);
});

server.listen(0, '127.0.0.1', () => {
  issuer.url = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(issuer.url + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
