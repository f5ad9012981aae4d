"""Signing in from a browser, for any service's pages: a session cookie that holds a random
session id (the service keeps only its digest), CSRF tokens on every form, and the cookie
rules that go with them.

Two CSRF defences, one for each side of signing in:
- before it, the sign-in form's token is a random value sent both in a cookie scoped to the
  form's path and in the form (double submit): another site can neither read the cookie nor
  make the browser send it (SameSite=Strict), so it cannot sign a visitor in as someone else;
- after it, every form carries a token derived from the secret session id, which a page of
  ours can show and another site cannot know.
"""

import hashlib
from collections.abc import Callable
from functools import wraps
from ipaddress import ip_address
from urllib.parse import urlencode

from flask import Response, abort, g, make_response, redirect, render_template, request

from shared.auth import Principal, new_token, secrets_equal

CSRF_FIELD = "csrf"


def cookie_flags() -> dict:
    """HttpOnly, SameSite=Strict, and Secure wherever a browser keeps a Secure cookie."""
    return {"httponly": True, "samesite": "Strict", "secure": _secure_cookies()}


def _secure_cookies() -> bool:
    # Browsers keep Secure cookies over plain HTTP on this computer only; elsewhere the
    # service is meant to be behind TLS (the gateway passes the client's scheme on in
    # X-Forwarded-Proto, which makes the request https here).
    if request.is_secure:
        return True
    host = request.host.rsplit(":", 1)[0].strip("[]")
    try:
        return host == "localhost" or ip_address(host).is_loopback
    except ValueError:
        return False


def csrf_token(session_id: str) -> str:
    """The forms' token of a signed-in session."""
    return hashlib.sha256(f"loopgate-csrf:{session_id}".encode()).hexdigest()


class SignInForm:
    """A form shown before signing in (signing in, accepting an invitation): its
    double-submit token, in a cookie scoped to the form's own `path`."""

    def __init__(self, cookie: str, path: str):
        self.cookie, self.path = cookie, path

    def page(self, template: str, status: int, headers: dict | None = None, **context) -> Response:
        """The page showing the form, its token as `csrf`, and the cookie that matches it."""
        token = new_token()
        page = render_template(template, csrf=token, **context)
        response = make_response(page, status, headers or {})
        response.set_cookie(self.cookie, token, path=self.path, **cookie_flags())
        return response

    def sent_back(self) -> bool:
        """Whether the form came back from a page of ours (not another site, not a form shown
        before its cookie was made)."""
        token = request.cookies.get(self.cookie)
        return bool(token) and secrets_equal(token, request.form.get(CSRF_FIELD))

    def done(self, response: Response) -> Response:
        response.delete_cookie(self.cookie, path=self.path, **cookie_flags())
        return response


class BrowserSessions:
    """The session cookie of an area of pages, which may span services (the cookie is sent
    to every path, its `areas` are the paths of its pages), and the decorator that lets only
    a signed-in visitor in. `who(session_id)` is the service's lookup: the principal of a
    live session, else None."""

    def __init__(
        self,
        cookie: str,
        areas: tuple[str, ...],
        sign_in_path: str,
        who: Callable[[str], Principal | None],
        changes: frozenset[str] | None = None,
        open_to_all: frozenset[str] = frozenset(),
    ):
        """`changes`: the roles whose forms may change anything (None: every role's); the
        endpoints in `open_to_all` take any signed-in visitor's form (signing out)."""
        self.cookie, self.areas = cookie, areas
        self._sign_in_path, self._who = sign_in_path, who
        self._changes, self._open_to_all = changes, open_to_all

    def signed_in(self, view):
        """Only for a visitor signed in with a live session: it is `g.principal`, the session
        id `g.session_id`, the forms' token `g.csrf` and whether they may change anything
        `g.may_change`; a POST without that token is
        refused (400), one from a role that may not change anything too (403)."""

        @wraps(view)
        def wrapper(*args, **kwargs):
            session_id = request.cookies.get(self.cookie, "")
            principal = self._who(session_id) if session_id else None
            if principal is None:
                here = request.full_path if request.query_string else request.path
                return redirect(f"{self._sign_in_path}?{urlencode({'next': here})}", 303)
            g.principal, g.session_id, g.csrf = principal, session_id, csrf_token(session_id)
            g.may_change = self.may_change(principal)
            if request.method == "POST":
                if not secrets_equal(g.csrf, request.form.get(CSRF_FIELD)):
                    abort(400)
                if not self.may_change(principal) and request.endpoint not in self._open_to_all:
                    abort(403)
            return view(*args, **kwargs)

        return wrapper

    def may_change(self, principal: Principal) -> bool:
        """Whether this visitor's forms may change anything (pages hide what they may not)."""
        return self._changes is None or principal.role in self._changes

    def begin(self, response: Response, session_id: str, lifetime_seconds: int) -> Response:
        response.set_cookie(
            self.cookie, session_id, max_age=lifetime_seconds, path="/", **cookie_flags()
        )
        return response

    def end(self, response: Response) -> Response:
        response.delete_cookie(self.cookie, path="/", **cookie_flags())
        return response

    def safe_next(self, default: str) -> str:
        """Where to go after signing in: the page asked for, if it lies in one of the areas
        (never another site)."""
        target = request.args.get("next", "")
        inside = any(target == area or target.startswith(area + "/") for area in self.areas)
        return target if inside else default
