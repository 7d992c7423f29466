"""The redactor: secrets out of text in every form, URL userinfo masked, `${VAR}` back in the
journal; which values are secrets; what an environment adds."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote, quote_plus

import pytest

from chaos.redact import (
    SECRETS,
    Redactor,
    redact_text,
    redact_value,
    register_request,
    register_url,
    register_variable,
    worth_hiding,
)
from chaos.spec import expand_env, parse_environment
from tests.redact.forms import leaks

SECRET = "S3cr3t!x9Q*Zk7~Wm4"


def _redactor(value: str = SECRET, name: str = "SIG") -> Redactor:
    r = Redactor()
    r.add(value, name, reference=f"${{{name}}}")
    return r


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("written", [
    SECRET,
    f"http://h:1/metrics?sig={SECRET}&x=1",
    quote(SECRET, safe=""),
    quote_plus(SECRET),
    json.dumps({"k": SECRET}),
    json.dumps({"k": SECRET}, ensure_ascii=True),
    html.escape(f"<a href='?sig={SECRET}'>"),
    _b64(SECRET),
    base64.urlsafe_b64encode(SECRET.encode()).decode(),
    f"Authorization: Basic {_b64('user:' + SECRET)}",
    f"Basic {_b64('u:' + SECRET + ':tail')}",
    f"Basic {_b64('us:' + SECRET + 'x')}",
])
def test_every_form_of_a_secret_becomes_its_label(written: str) -> None:
    out = _redactor().text(written)
    assert leaks(out, SECRET) == []
    assert "<redacted:SIG>" in out


def test_text_outside_secrets_is_left_alone() -> None:
    r = _redactor()
    text = "GET http://127.0.0.1:18080/health answered 200 (tb-s1, S3cr3t alone)"
    assert r.text(text) == text


def test_the_longest_secret_wins_where_two_overlap() -> None:
    r = Redactor()
    r.add("abcd-1234", "SHORT")
    r.add("abcd-1234-efgh", "LONG")
    assert r.text("x abcd-1234-efgh y abcd-1234 z") == "x <redacted:LONG> y <redacted:SHORT> z"


def test_short_values_are_not_secrets() -> None:
    r = Redactor()
    r.add("abc", "X")
    assert r.text("abc abcabc") == "abc abcabc"


@pytest.mark.parametrize(("url", "shown"), [
    ("http://user:pw@host:1/x", "http://***@host:1/x"),
    ("https://token@host/x?y=1", "https://***@host/x?y=1"),
    ("ssh://deploy@docker-host", "ssh://***@docker-host"),
    ('{"api":"http://a:b@h","note":"mail me@example.com"}', '{"api":"http://***@h","note":"mail me@example.com"}'),
    ("http://host/path@not-userinfo", "http://host/path@not-userinfo"),
    ("http://chaos:${PASS}@host/x", "http://chaos:${PASS}@host/x"),  # as written: no secret
    ("http://${TOKEN}@host/x", "http://${TOKEN}@host/x"),
    ("http://chaos:${PASS}x@host/x", "http://***@host/x"),
])
def test_url_userinfo_is_masked(url: str, shown: str) -> None:
    assert Redactor().text(url) == shown


def test_the_journal_gets_the_variable_back_and_keeps_replayable_userinfo() -> None:
    r = _redactor()
    r.add("lit-credential-77", "target.auth.token")
    entry = {"url": f"http://h/admin/fault?sig={SECRET}",
             "api": f"http://chaos:{SECRET}@h:1",
             "literal": "http://chaos:pw-literal@h:1",
             "docker": "ssh://deploy@docker-host",
             "error": "401 for lit-credential-77"}
    assert r.for_journal(entry) == {
        "url": "http://h/admin/fault?sig=${SIG}",
        "api": "http://chaos:${SIG}@h:1",
        "literal": "http://chaos:***@h:1",  # not replayable: write passwords as ${VAR}
        "docker": "ssh://deploy@docker-host",
        "error": "401 for <redacted:target.auth.token>",
    }


def test_only_the_whole_value_of_a_variable_returns_as_the_variable() -> None:
    r = _redactor()
    encoded = quote(SECRET, safe="")
    assert r.journal_text(f"a={encoded}") == "a=<redacted:SIG>"


def test_json_values_are_redacted_keys_included() -> None:
    r = _redactor()
    assert r.value({SECRET: [SECRET, 1, None, (SECRET,)]}) == {
        "<redacted:SIG>": ["<redacted:SIG>", 1, None, ["<redacted:SIG>"]]}


@pytest.mark.parametrize(("name", "value", "secret"), [
    ("CHAOS_SIG", "S3cr3t-x9Q", True),
    ("DB_PASSWORD", "pass", True),  # a secret-named variable: any value of 4+ characters
    ("API_TOKEN", "8080", True),
    ("X", "abc", False),  # too short to redact anywhere
    ("PORT", "18080", False),
    ("RATE", "0.5", False),
    ("ENABLED", "true", False),
    ("HOST", "localhost", False),
    ("HOST", "127.0.0.1:8474", False),
    ("HOST", "toxiproxy.staging.example.com", False),
    ("STATE", "/var/lib/chaos/state.json", False),
    ("STATE", "~/.chaos/testbed/state.json", False),
    ("BASE", "http://127.0.0.1:18080", False),
    ("FAULT_URL", "http://h:1/admin/fault", False),  # an address: its path is no credential
    ("FAULT_URL", "http://h:1/admin/fault?sig=abcd", True),
    ("API", "http://user:pw@h:1", True),
    ("PROJECT", "staging-blue", True),
    ("TOKEN_TEMPLATE", "S3cr3t-{subject}", True),
])
def test_which_variable_values_are_secrets(name: str, value: str, secret: bool) -> None:
    assert worth_hiding(name, value) is secret


def test_an_expanded_environment_variable_is_a_secret_a_default_is_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOS_TEST_REDACT_SIG", "Expanded-9fQ2-secret")
    monkeypatch.delenv("CHAOS_TEST_REDACT_UNSET", raising=False)
    url = expand_env("http://h/x?sig=${CHAOS_TEST_REDACT_SIG}&d=${CHAOS_TEST_REDACT_UNSET:-dflt-7Qz-value}")
    assert redact_text(url) == "http://h/x?sig=<redacted:CHAOS_TEST_REDACT_SIG>&d=dflt-7Qz-value"
    assert SECRETS.journal_text(url) == "http://h/x?sig=${CHAOS_TEST_REDACT_SIG}&d=dflt-7Qz-value"


def test_a_mapping_other_than_the_process_environment_registers_nothing() -> None:
    assert expand_env("${V}", {"V": "Mapping-only-4qZ"}) == "Mapping-only-4qZ"
    assert redact_text("Mapping-only-4qZ") == "Mapping-only-4qZ"


def test_a_token_template_is_redacted_in_every_token_made_from_it() -> None:
    register_variable("CHAOS_TEST_REDACT_TOKEN", "tpl-Q8zv3-{subject}-end9")
    assert redact_text("Bearer tpl-Q8zv3-s17-end9") == (
        "Bearer <redacted:CHAOS_TEST_REDACT_TOKEN>s17<redacted:CHAOS_TEST_REDACT_TOKEN>")


def test_an_auth_token_from_defaults_alone_is_not_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOS_TEST_REDACT_TB", raising=False)
    parse_environment(_ENV.replace("Lit-token-3Hq-{subject}", "${CHAOS_TEST_REDACT_TB:-Dflt-tok-9Bq-{subject}}"))
    assert redact_text("Bearer Dflt-tok-9Bq-s1") == "Bearer Dflt-tok-9Bq-s1"


def test_query_parameters_are_secret_by_configured_or_secret_name() -> None:
    register_url("http://h/x?region=us-east&code=Cfg-param-5Rt&access_token=Tok-param-8Kp",
                 label="metrics.scrape.0", secret_params=["CODE"])
    assert redact_text("code=Cfg-param-5Rt token Tok-param-8Kp region us-east") == (
        "code=<redacted:code> token <redacted:access_token> region us-east")


_ENV = """
version: 1
name: redact-unit
kind: staging
target:
  base_url: http://127.0.0.1:1
  auth: {token: "Lit-token-3Hq-{subject}"}
  headers: {x-tenant-key: Hdr-secret-6Wd, x-trace: trace-plain-value}
toxiproxy: {api: "http://chaos:Tp-pass-2Lm@127.0.0.1:2"}
runtime: {kind: process, state_file: /tmp/state.json}
topology:
  primary_route: p
  providers: {p: {http_fault: "http://127.0.0.1:3/admin/fault?key2=Qp-secret-1Vb"}}
  regions:
    r: {health_url: "http://127.0.0.1:4/health?sig=Hu-sig-4Nc"}
metrics:
  scrape: ["http://127.0.0.1:5/metrics?region=eu-west"]
  headers: {Authorization: "Bearer Mh-bearer-7Ty"}
dashboards: {grafana: {url: "http://127.0.0.1:6", token: Gf-token-5Zpw}}
secrets: {query_params: [key2], headers: [X-Tenant-Key]}
"""


def test_an_environment_registers_its_tokens_headers_query_secrets_and_passwords() -> None:
    env = parse_environment(_ENV)
    assert env.secrets.query_params == ("key2",)
    text = ("Lit-token-3Hq-s1 Hdr-secret-6Wd Tp-pass-2Lm Qp-secret-1Vb Hu-sig-4Nc "
            "Bearer Mh-bearer-7Ty trace-plain-value eu-west Gf-token-5Zpw")
    assert redact_value({"t": text}) == {"t": (
        "<redacted:target.auth.token>s1 <redacted:target.headers.x-tenant-key> "
        "<redacted:toxiproxy.api> <redacted:key2> <redacted:sig> "
        "<redacted:metrics.headers.Authorization> trace-plain-value eu-west "
        "<redacted:dashboards.grafana.token>")}


def test_a_load_worker_knows_its_token_and_secret_headers() -> None:
    register_request("Wk-tok-4Rq-{subject}", [("x-api-key", "Wk-key-8Lm"), ("x-trace", "Wk-trace-1")])
    assert redact_text("Bearer Wk-tok-4Rq-s3 Wk-key-8Lm Wk-trace-1") == (
        "Bearer <redacted:target.auth.token>s3 <redacted:target.headers.x-api-key> Wk-trace-1")
