#!/usr/bin/env python3
"""Gets an OAuth2 access token from a running benhan server the way a SMART app does:
authorization code + PKCE (S256), logging in and approving on the server's own pages.

usage: bench/oauth_token.py ORIGIN CLIENT_ID REDIRECT_URI USER PASSWORD SCOPE
prints the access token. Used by bench/access.sh (the "oauth" variant).
"""
import base64
import hashlib
import html
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def request(url, form=None, cookie=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data)
    if form is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        r = OPENER.open(req, timeout=30)
    except urllib.error.HTTPError as e:  # 302 and errors alike
        r = e
    return r.status, r.headers, r.read().decode("utf-8", "replace")


def fields(page):
    out = {}
    for m in re.finditer(r"<input([^>]*)>", page):
        name = re.search(r'name="([^"]*)"', m.group(1))
        value = re.search(r'value="([^"]*)"', m.group(1))
        if name:
            out[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return out


def main():
    origin, client, redirect, user, password, scope = sys.argv[1:7]
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = urllib.parse.urlencode({
        "response_type": "code", "client_id": client, "redirect_uri": redirect, "scope": scope,
        "state": "bench", "aud": origin + "/fhir", "code_challenge": challenge,
        "code_challenge_method": "S256"})
    status, _, page = request(origin + "/auth/authorize?" + q)
    if status != 200:
        sys.exit("authorize page: HTTP %d %s" % (status, page[:300]))
    status, headers, page = request(origin + "/auth/authorize",
                                    {**fields(page), "username": user, "password": password})
    cookie = (headers.get("Set-Cookie") or "").split(";")[0]
    if status != 200 or not cookie:
        sys.exit("login: HTTP %d %s" % (status, page[:300]))
    status, headers, page = request(origin + "/auth/authorize", {**fields(page), "action": "approve"},
                                    cookie)
    location = headers.get("Location") or ""
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query).get("code", [""])[0]
    if status != 302 or not code:
        sys.exit("approve: HTTP %d %s %s" % (status, location, page[:300]))
    import json
    status, _, body = request(origin + "/auth/token", {
        "grant_type": "authorization_code", "code": code, "client_id": client,
        "redirect_uri": redirect, "code_verifier": verifier})
    if status != 200:
        sys.exit("token: HTTP %d %s" % (status, body[:300]))
    print(json.loads(body)["access_token"])


if __name__ == "__main__":
    main()
