"""Operating credstore as a Prometheus user would: the metrics endpoint scraped and
parsed with Prometheus's own Python parser (OpenMetrics, strict), its values moving when
the counted thing happens; health and readiness; request ids.

And the API driven by a generator that knows its schema: schemathesis over
/api/v2/openapi.json, as a superuser and as an ordinary user, expecting no 5xx and no
answer that breaks the document.

Steps of the client scenario (scenario.py), run against the same server.
"""

import base64
import os
import subprocess
import sys
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families
from support import check, short


def scrape(s):
    status, text = s.http('GET', '/api/v2/metrics/')
    check(status == 200 and isinstance(text, str), f'GET /api/v2/metrics/ -> {status}: {short(text)}')
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return families


def value(families, name, **labels):
    family = families.get(name)
    check(family is not None, f'no metric family {name}; have {sorted(families)[:40]}')
    for sample in family.samples:
        if sample.name in (name, name + '_total') and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return 0.0


def operability(s):
    @s.step('operability: /api/v2/metrics/ parses as OpenMetrics with AWX names, and moves')
    def _():
        before = scrape(s)
        info = before['awx_system_info'].samples[0]
        check(info.labels.get('tower_version') == '24.6.1', f'awx_system_info: {info}')
        orgs = value(before, 'awx_organizations_total')
        requests = value(before, 'credstore_requests', method='GET', route='/api/v2/me/', status='200')
        status, body = s.http('POST', '/api/v2/organizations/', {'name': 'e2e metrics org'})
        check(status == 201, f'POST /api/v2/organizations/ -> {status}: {short(body)}')
        s.api_get('/api/v2/me/')
        after = scrape(s)
        check(value(after, 'awx_organizations_total') == orgs + 1, 'awx_organizations_total did not count the new organization')
        moved = value(after, 'credstore_requests', method='GET', route='/api/v2/me/', status='200')
        check(moved >= requests + 1, f'credstore_requests for /api/v2/me/ went {requests} -> {moved}')
        for name in ('awx_users_total', 'awx_teams_total', 'awx_sessions_total', 'credstore_request_duration_seconds',
                     'credstore_credentials', 'credstore_key_version'):
            check(name in after, f'{name} missing')
        return f'{len(after)} families'

    @s.step('operability: /healthz, /readyz and X-Request-Id')
    def _():
        for path, want in (('/healthz', 'ok'), ('/readyz', 'ready')):
            status, body = s.http('GET', path, auth=False)
            check(status == 200 and body == {'status': want}, f'GET {path} -> {status}: {short(body)}')
        req = urllib.request.Request(s.host + '/api/v2/ping/', headers={'X-Request-Id': 'e2e-trace-1'})
        with urllib.request.urlopen(req, timeout=10) as resp:
            check(resp.headers.get('X-Request-Id') == 'e2e-trace-1', f'X-Request-Id: {resp.headers.get("X-Request-Id")}')


    @s.step('operability: schemathesis finds no server error and no answer outside the document')
    def _():
        status, body = s.http('POST', '/api/v2/users/', {'username': 'e2e-schemathesis', 'password': 'e2e-Passw0rd!'})
        check(status == 201, f'POST /api/v2/users/ -> {status}: {short(body)}')
        tool = os.path.join(os.path.dirname(sys.executable), 'schemathesis')
        notes = []
        # The ordinary user first: the superuser's run may delete it.
        for user, password in (('e2e-schemathesis', 'e2e-Passw0rd!'), (s.username, s.password)):
            auth = base64.b64encode(f'{user}:{password}'.encode()).decode()
            # A fixed seed: the same cases on every run, so a failure is reproducible.
            run = subprocess.run(
                [tool, 'run', s.host + '/api/v2/openapi.json', '-H', f'Authorization: Basic {auth}',
                 '--max-examples', '3', '--seed', '20261207',
                 '--checks', 'not_a_server_error,response_schema_conformance'],
                capture_output=True, text=True, timeout=600,
            )
            summary = [l.strip() for l in run.stdout.splitlines() if 'generated' in l]
            check(run.returncode == 0, f'as {user}: exit {run.returncode}\n' + short(run.stdout[-4000:], 4000))
            notes.append(f'{user}: ' + (summary[-1] if summary else 'done'))
        return '; '.join(notes)
