// A relying party on openid-client (OpenID-certified), for usher's
// provider tests: node rp.mjs <issuer> <client_id> <port>, with the secret
// in RP_CLIENT_SECRET or, for private_key_jwt, the client's private key (a
// JWK) in RP_PRIVATE_JWK; RP_ASSERTION then bends its assertions to test
// the provider's refusals: wrong-aud, expired or replay (one jti for all).
// It signs in with code + PKCE (checking RFC 9207's
// iss), reads userinfo, refreshes (rotation), signs in silently with
// prompt=none, and signs out through the provider.
import http from 'node:http'
import * as client from 'openid-client'

const [issuer, clientId, port] = process.argv.slice(2)
const base = `http://127.0.0.1:${port}`
let auth
if (process.env.RP_PRIVATE_JWK) {
  const jwk = JSON.parse(process.env.RP_PRIVATE_JWK)
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  const bend = {
    'wrong-aud': (p) => { p.aud = 'https://elsewhere.example' },
    expired: (p) => { p.iat -= 300; p.nbf -= 300; p.exp = p.iat + 60 },
    replay: (p) => { p.jti = 'one-jti-for-every-request' }
  }[process.env.RP_ASSERTION || '']
  auth = client.PrivateKeyJwt({ key, kid: jwk.kid }, { [client.modifyAssertion]: (_, payload) => bend?.(payload) })
}
const config = await client.discovery(new URL(issuer), clientId, process.env.RP_CLIENT_SECRET, auth,
  { execute: [client.allowInsecureRequests] })

const pending = new Map() // state → { verifier, nonce }
let tokens = null

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const buttons = [['Refresh', '/refresh'], ['Silent sign-in', '/silent'], ['Sign out', '/logout']]
function page (res, title, note, body, btns = buttons) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>body{font:16px/1.5 sans-serif;color:#1a1a1a;background:#fff;margin:1rem}pre{white-space:pre-wrap;word-break:break-all}
button{font:inherit;background:#1f4fd1;color:#fff;border:0;padding:.4rem .8rem;margin:.2rem}a:focus,button:focus{outline:3px solid #0b2a7a}</style></head>
<body><h1>${esc(title)}</h1>${note ? `<p role="status">${esc(note)}</p>` : ''}
${btns.map(([t, a]) => `<form method="post" action="${a}" style="display:inline"><button type="submit">${esc(t)}</button></form>`).join('')}
${body ? `<pre>${esc(body)}</pre>` : ''}</body></html>`)
}

async function authorize (res, extra) {
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  pending.set(state, { verifier, nonce })
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: `${base}/callback`,
    scope: 'openid profile email usher offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra
  })
  res.writeHead(303, { location: url.href })
  res.end()
}

async function userinfo () {
  return client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub)
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, base)
  try {
    if (req.method === 'GET' && url.pathname === '/') {
      return page(res, 'openid-client relying party', '', '', [['Sign in', '/login'], ['Silent sign-in', '/silent']])
    }
    if (req.method === 'POST' && url.pathname === '/login') return authorize(res, {})
    if (req.method === 'POST' && url.pathname === '/silent') return authorize(res, { prompt: 'none' })
    if (req.method === 'GET' && url.pathname === '/callback') {
      const p = pending.get(url.searchParams.get('state'))
      pending.delete(url.searchParams.get('state'))
      if (!p) return page(res, 'Sign-in failed', 'unknown state')
      try {
        tokens = await client.authorizationCodeGrant(config, url,
          { pkceCodeVerifier: p.verifier, expectedState: url.searchParams.get('state'), expectedNonce: p.nonce, idTokenExpected: true })
      } catch (e) {
        if (e.error) return page(res, 'Not signed in', `usher answered ${e.error}`, '', [['Sign in', '/login'], ['Silent sign-in', '/silent']])
        throw e
      }
      const claims = tokens.claims()
      const info = await userinfo()
      return page(res, `Signed in as ${info.name}`, `role ${claims.role}, tenant ${claims.tenant}`, JSON.stringify(info, null, 2))
    }
    if (req.method === 'POST' && url.pathname === '/refresh') {
      const old = tokens.refresh_token
      try {
        tokens = await client.refreshTokenGrant(config, old)
      } catch (e) {
        if (e.error) return page(res, 'Refresh refused', `usher answered ${e.error}`)
        throw e
      }
      const info = await userinfo()
      // The old refresh token no longer works (and presenting it again
      // revokes the family, so it is tried last).
      let reuseRefused = false
      try { await client.refreshTokenGrant(config, old) } catch (e) { reuseRefused = e.error === 'invalid_grant' }
      return page(res, `Signed in as ${info.name}`, `refreshed; rotated: ${tokens.refresh_token !== old && reuseRefused ? 'yes' : 'no'}`,
        JSON.stringify(info, null, 2))
    }
    if (req.method === 'POST' && url.pathname === '/logout') {
      const end = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: `${base}/` })
      tokens = null
      res.writeHead(303, { location: end.href })
      return res.end()
    }
    res.writeHead(404)
    res.end('not found')
  } catch (e) {
    page(res, 'Error', `${e.name}: ${e.message}${e.error ? ` (${e.error})` : ''}`)
  }
})
server.listen(Number(port), '127.0.0.1', () => console.log(`openid-client relying party listening on ${base}`))
