#!/usr/bin/env python3
"""End-to-end scenario: the real AWX clients against a running credstore.

Driven by tests/clients/run.sh with the python of a venv that has
awxkit 24.6.1 and ansible 12.3.0 (which bundles awx.awx 24.6.1). Three
clients, used as people use them:

  * the `awx` CLI (awxkit's entry point), logged in with a username and password;
  * the awxkit library;
  * ansible-playbook with the awx.awx collection (present.yml, absent.yml).

Every step asserts what AWX itself does, so a failing step means the server
differs from AWX (or lacks something), not that the test is lenient. Steps
never stop the run: each one is counted, and a step whose prerequisite failed
fails too, saying which prerequisite it lacked.

Checks that are not themselves the client under test (did the role really get
granted?) go straight to the REST API with Basic auth, so that a client bug
cannot hide a server bug and the other way round.
"""

import argparse
import base64
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

from support import StepFailed, check, short  # noqa: F401 (StepFailed is caught below)
from operability import operability
from use_credentials import use_credentials
from web_ui import web_ui

HERE = os.path.dirname(os.path.abspath(__file__))
# The venv's bin: awx, ansible-playbook and this python live side by side.
VENV_BIN = os.path.dirname(sys.executable)

# Names used throughout, so the report reads like the commands a person typed.
ORG = 'E2E Org'
OTHER_ORG = 'E2E Other Org'
TEMP_ORG = 'E2E Temp Org'
ALICE = 'e2e-alice'  # member of ORG: may be given roles on its credentials
BOB = 'e2e-bob'  # member of OTHER_ORG only: may not
TEMP_USER = 'e2e-temp'
TEAM = 'E2E Team'
TEMP_TEAM = 'E2E Temp Team'
CTYPE = 'E2E API Token'
TEMP_CTYPE = 'E2E Temp Type'
MACHINE = 'E2E Machine'
SCM = 'E2E Git'
AWS = 'E2E AWS'
VAULT = 'E2E Vault'
API_CRED = 'E2E API'
TEMP_CRED = 'E2E Temp Credential'
COPY = 'E2E Machine (copy)'
PAGED_PREFIX = 'E2E Paged '
PAGED_COUNT = 30  # more than one page at AWX's default page size of 25
# The playbooks get their own organization, user and team so that a failure
# in the CLI part cannot make them fail.
PB = {
    'org_name': 'E2E Playbook Org',
    'user_name': 'e2e-carol',
    'team_name': 'E2E Playbook Team',
    'type_name': 'E2E Playbook Type',
    'vault_name': 'E2E Playbook Vault',
    'service_name': 'E2E Playbook Service',
}

ENCRYPTED = '$encrypted$'

CUSTOM_INPUTS = {
    'fields': [
        {'id': 'url', 'label': 'API URL', 'type': 'string', 'help_text': 'Base URL of the API'},
        {'id': 'token', 'label': 'API token', 'type': 'string', 'secret': True},
    ],
    'required': ['url'],
}
CUSTOM_INJECTORS = {
    'env': {'E2E_API_URL': '{{ url }}', 'E2E_API_TOKEN': '{{ token }}'},
    'extra_vars': {'e2e_api_url': '{{ url }}'},
}


class Scenario:
    def __init__(self, host, username, password, workdir):
        self.host = host.rstrip('/')
        self.username = username
        self.password = password
        self.workdir = workdir
        self.passed = 0
        self.failed = []
        self.ctx = {}  # ids and objects that later steps build on

    # ---- bookkeeping -------------------------------------------------------

    def step(self, name):
        """Decorator that runs the function at once as one counted step."""

        def run(fn):
            started = time.monotonic()
            try:
                note = fn()
            except StepFailed as e:
                self._fail(name, str(e))
            except Exception:  # a crash in a step is a failed step, not a crashed run
                self._fail(name, 'unexpected error:\n' + traceback.format_exc(limit=3))
            else:
                self.passed += 1
                took = time.monotonic() - started
                print(f'PASS  {name}' + (f' ({note})' if note else '') + f' [{took:.1f}s]', flush=True)
            return fn

        return run

    def _fail(self, name, message):
        self.failed.append(name)
        indented = '\n'.join('      ' + line for line in message.rstrip().splitlines())
        print(f'FAIL  {name}\n{indented}', flush=True)

    def need(self, *keys):
        """The ids an earlier step left; a clear failure if it did not."""
        missing = [k for k in keys if k not in self.ctx]
        check(not missing, f'not run: needs {", ".join(missing)} from an earlier step that failed')
        values = [self.ctx[k] for k in keys]
        return values[0] if len(values) == 1 else values

    # ---- the REST API directly, for checks ------------------------------------

    def http(self, method, path, body=None, auth=True):
        """Returns (status, parsed JSON or text) and never raises on HTTP errors."""
        url = self.host + path
        data = None
        headers = {'Accept': 'application/json'}
        if body is not None:
            data = json.dumps(body).encode()
            headers['Content-Type'] = 'application/json'
        if auth:
            token = base64.b64encode(f'{self.username}:{self.password}'.encode()).decode()
            headers['Authorization'] = 'Basic ' + token
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        text = raw.decode(errors='replace')
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def api_get(self, path):
        status, body = self.http('GET', path)
        check(status == 200, f'GET {path} -> {status}: {short(body)}')
        return body

    def find(self, resource, **filters):
        """Objects of a list endpoint matching exact filters."""
        query = urllib.parse.urlencode(dict(filters, page_size=200))
        return self.api_get(f'/api/v2/{resource}/?{query}')['results']

    def role_members(self, role_id, kind):
        return {o['id'] for o in self.api_get(f'/api/v2/roles/{role_id}/{kind}/?page_size=200')['results']}

    # ---- the awx CLI -----------------------------------------------------------

    def awx(self, *args, ok=True, password=None):
        """Runs the awx CLI logged in with username and password.

        -v makes awxkit log every request (method, path, status) on stderr, which
        is what a failure message needs to show what went over the wire.
        Returns (exit code, parsed stdout or None, stderr).
        """
        login = [
            '--conf.host',
            self.host,
            '--conf.username',
            self.username,
            '--conf.password',
            password or self.password,
        ]
        output = ['-f', 'json', '--conf.color', 'false', '-v']
        cmd = [os.path.join(VENV_BIN, 'awx'), *login, *output, *args]
        shown = 'awx ' + ' '.join(shlex.quote(a) for a in args)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=client_env(), timeout=300, cwd=self.workdir)
        out = proc.stdout.strip()
        parsed = None
        if out:
            try:
                parsed = json.loads(out)
            except ValueError:
                parsed = out
        if ok and proc.returncode != 0:
            raise StepFailed(f'`{shown}` exited {proc.returncode}\nstdout: {short(out)}\n' + wire_log(proc.stderr))
        if not ok and proc.returncode == 0:
            raise StepFailed(
                f'`{shown}` was expected to fail but exited 0\nstdout: {short(out)}\n' + wire_log(proc.stderr)
            )
        return proc.returncode, parsed, proc.stderr

    def awx_json(self, *args):
        _, parsed, stderr = self.awx(*args)
        check(
            isinstance(parsed, dict),
            f'`awx {" ".join(args)}` printed no JSON object: {short(parsed)}\n' + wire_log(stderr),
        )
        return parsed

    # ---- ansible-playbook ----------------------------------------------------------

    def playbook(self, name, extra_vars):
        """Runs one of the playbooks beside this file; returns its outcome."""
        site_packages = next(
            p for p in sys.path if p.endswith('site-packages') and os.path.isdir(os.path.join(p, 'ansible_collections'))
        )
        env = client_env()
        env.update(
            {
                'CONTROLLER_HOST': self.host,
                'CONTROLLER_USERNAME': self.username,
                'CONTROLLER_PASSWORD': self.password,
                'CONTROLLER_VERIFY_SSL': 'false',
                # Only the collection bundled with this ansible: one installed
                # under ~/.ansible would otherwise win.
                'ANSIBLE_COLLECTIONS_PATH': site_packages,
                # Keep the user's and the system's ansible.cfg out of it.
                'ANSIBLE_CONFIG': os.path.join(self.workdir, 'ansible.cfg'),
                'ANSIBLE_HOME': os.path.join(self.workdir, 'ansible-home'),
                'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_FORCE_COLOR': '0',
                'ANSIBLE_STDOUT_CALLBACK': 'default',
                'ANSIBLE_LOCALHOST_WARNING': 'false',
                'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
                'ANSIBLE_RETRY_FILES_ENABLED': 'false',
            }
        )
        open(env['ANSIBLE_CONFIG'], 'a').close()
        cmd = [
            os.path.join(VENV_BIN, 'ansible-playbook'),
            '-i',
            'localhost,',
            '-e',
            json.dumps(extra_vars),
            os.path.join(HERE, name),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=self.workdir)
        return PlaybookRun(name, proc)


class PlaybookRun:
    """What the default callback printed: each task's status and the recap."""

    RECAP = re.compile(
        r'^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)', re.M
    )

    def __init__(self, name, proc):
        self.name = name
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        self.tasks = []  # (task name, status) in order
        current = None
        for line in proc.stdout.splitlines():
            m = re.match(r'^TASK \[(.*)\]', line)
            if m:
                current = m.group(1)
                continue
            m = re.match(r'^(ok|changed|skipping|fatal|failed): \[localhost\]', line)
            if m and current:
                self.tasks.append((current, {'failed': 'fatal', 'skipping': 'skipped'}.get(m.group(1), m.group(1))))
                current = None
        m = self.RECAP.search(proc.stdout)
        self.recap = (
            dict(zip(('ok', 'changed', 'unreachable', 'failed', 'skipped'), map(int, m.groups()))) if m else None
        )
        self.warnings = [l for l in self.output.splitlines() if l.startswith('[WARNING]')]

    def describe(self):
        tasks = '\n'.join(f'  {status:8} {task}' for task, status in self.tasks)
        fatal = '\n'.join(
            l for l in self.output.splitlines() if l.startswith(('fatal:', 'failed:', 'ERROR!', '[ERROR]'))
        )
        text = f'{self.name}: exit {self.rc}, recap {self.recap}\n{tasks}'
        if fatal:
            text += '\n' + short(fatal, 3000)
        if self.warnings:
            text += '\n' + '\n'.join(self.warnings)
        return text

    def expect(self, changed_tasks, unchanged_tasks=(), skipped_tasks=()):
        """Every task must have ended as listed, and nothing failed or warned."""
        check(
            self.rc == 0 and self.recap is not None and self.recap['failed'] == 0, 'playbook failed\n' + self.describe()
        )
        statuses = dict(self.tasks)
        wrong = []
        for wanted, names in (('changed', changed_tasks), ('ok', unchanged_tasks), ('skipped', skipped_tasks)):
            for task in names:
                if statuses.get(task) != wanted:
                    wrong.append(f'{task!r}: expected {wanted}, got {statuses.get(task, "not run")}')
        check(not wrong, 'tasks ended wrong: ' + '; '.join(wrong) + '\n' + self.describe())
        # The collection warns when the server does not look like AWX 24 or when
        # it cannot delete its session token: all are server faults here.
        check(not self.warnings, 'playbook printed warnings\n' + self.describe())
        return f"recap ok={self.recap['ok']} changed={self.recap['changed']} skipped={self.recap['skipped']}"


def client_env():
    """The caller's environment without settings that would redirect a client."""
    return {k: v for k, v in os.environ.items() if not k.startswith(('CONTROLLER_', 'TOWER_', 'AWXKIT_', 'ANSIBLE_'))}


def wire_log(stderr):
    """The request lines from awxkit's -v log, plus any error text."""
    lines = stderr.splitlines()
    # urllib3 logs `"METHOD /path HTTP/1.1" status size`; awxkit's own
    # "elapsed" lines repeat the same requests.
    wire = [l for l in lines if re.search(r'"(GET|POST|PATCH|PUT|DELETE|OPTIONS|HEAD) /', l)]
    other = [l for l in lines if l not in wire and not l.startswith('DEBUG:')]
    text = ''
    if wire:
        text += 'requests (last 12):\n' + '\n'.join('  ' + l.split('"', 1)[-1].rstrip() for l in wire[-12:]) + '\n'
    if other:
        text += 'stderr: ' + short('\n'.join(other[-15:]), 2000)
    return text


def flags(**options):
    """CLI flags from keyword arguments; dicts become the JSON the CLI parses."""
    out = []
    for key, value in options.items():
        out += ['--' + key, json.dumps(value) if isinstance(value, (dict, list)) else str(value)]
    return out


def results_of(listing):
    check(isinstance(listing, dict) and isinstance(listing.get('results'), list), f'not a list page: {short(listing)}')
    return listing['results']


def names_in(listing, key='name'):
    return [o.get(key) for o in results_of(listing)]


# ============================================================================
# The scenario
# ============================================================================


def run(s):
    cli_organizations(s)
    cli_users(s)
    cli_teams(s)
    cli_credential_types(s)
    cli_credentials(s)
    cli_roles(s)
    library(s)
    cli_paging(s)
    playbooks(s)
    use_credentials(s, s.credstore_bin)
    operability(s)
    web_ui(s)


def cli_organizations(s):
    @s.step('cli: logs in with username and password (awx me)')
    def _():
        me = s.awx_json('me')
        check(names_in(me, 'username') == [s.username], f'`awx me` should list only {s.username}: {short(me)}')

    @s.step('cli: a wrong password is refused')
    def _():
        _, out, stderr = s.awx('me', ok=False, password='wrong-' + s.password)
        check(
            'Valid credentials were not provided' in f'{out}\n{stderr}',
            'expected "Valid credentials were not provided" (the CLI prints it on a 401)\n' + wire_log(stderr),
        )

    @s.step('cli: organizations create')
    def _():
        for name in (ORG, OTHER_ORG, TEMP_ORG):
            org = s.awx_json(
                'organizations', 'create', '--name', name, '--description', f'{name} for the client e2e test'
            )
            check(org.get('name') == name and isinstance(org.get('id'), int), f'create answered {short(org)}')
            check(
                org.get('url') == f"/api/v2/organizations/{org['id']}/",
                f"url should be the relative path /api/v2/organizations/{org['id']}/: {org.get('url')!r}",
            )
            s.ctx['org:' + name] = org['id']

    @s.step('cli: organizations list --name filter')
    def _():
        org_id = s.need('org:' + ORG)
        listing = s.awx_json('organizations', 'list', '--name', ORG)
        check(
            listing.get('count') == 1 and [o['id'] for o in results_of(listing)] == [org_id],
            f'expected only {ORG} (id {org_id}): {short(listing)}',
        )

    @s.step('cli: organizations list --all')
    def _():
        s.need('org:' + ORG)
        listing = s.awx_json('organizations', 'list', '--all')
        names = names_in(listing)
        check({ORG, OTHER_ORG, TEMP_ORG} <= set(names), f'expected the three e2e organizations among {names}')

    @s.step('cli: organizations get by name and by id')
    def _():
        org_id = s.need('org:' + ORG)
        by_name = s.awx_json('organizations', 'get', ORG)
        by_id = s.awx_json('organizations', 'get', str(org_id))
        check(
            by_name.get('id') == org_id and by_id.get('name') == ORG,
            f'by name: {short(by_name)}; by id: {short(by_id)}',
        )

    @s.step('cli: organizations modify')
    def _():
        s.need('org:' + ORG)
        org = s.awx_json('organizations', 'modify', ORG, '--description', 'modified by the CLI')
        check(org.get('description') == 'modified by the CLI', f'modify answered {short(org)}')
        check(
            s.awx_json('organizations', 'get', ORG).get('description') == 'modified by the CLI',
            'the new description did not stick',
        )

    @s.step('cli: organizations delete')
    def _():
        org_id = s.need('org:' + TEMP_ORG)
        s.awx('organizations', 'delete', TEMP_ORG)
        status, body = s.http('GET', f'/api/v2/organizations/{org_id}/')
        check(status == 404, f'after delete GET /api/v2/organizations/{org_id}/ -> {status}: {short(body)}')
        s.awx('organizations', 'get', TEMP_ORG, ok=False)


def cli_users(s):
    @s.step('cli: users create')
    def _():
        for username, first in ((ALICE, 'Alice'), (BOB, 'Bob'), (TEMP_USER, 'Temp')):
            user = s.awx_json(
                'users',
                'create',
                *flags(username=username, password='e2e-Passw0rd!', first_name=first, last_name='Tester'),
                *flags(email=f'{username}@example.com'),
            )
            check(
                user.get('username') == username and isinstance(user.get('id'), int), f'create answered {short(user)}'
            )
            check(user.get('password') in (None, ENCRYPTED), f"the password came back: {user.get('password')!r}")
            s.ctx['user:' + username] = user['id']

    @s.step('cli: users join organizations (grant --organization --role member)')
    def _():
        alice, bob = s.need('user:' + ALICE, 'user:' + BOB)
        org_id, other_id = s.need('org:' + ORG, 'org:' + OTHER_ORG)
        try:
            s.awx('users', 'grant', '--organization', ORG, '--role', 'member', ALICE)
            s.awx('users', 'grant', '--organization', OTHER_ORG, '--role', 'member', BOB)
        finally:
            # The credential role steps below test credential roles, not this:
            # if the CLI could not make the users members, do it over the API
            # (this step still fails) so that they are not failed by it.
            for user_id, oid in ((alice, org_id), (bob, other_id)):
                if user_id not in {u['id'] for u in s.find(f'organizations/{oid}/users')}:
                    s.http('POST', f'/api/v2/organizations/{oid}/users/', {'id': user_id})
        check(
            alice in {u['id'] for u in s.find(f'organizations/{org_id}/users')},
            f'{ALICE} is not among the users of {ORG}',
        )
        check(
            bob in {u['id'] for u in s.find(f'organizations/{other_id}/users')},
            f'{BOB} is not among the users of {OTHER_ORG}',
        )

    @s.step('cli: users list --username filter')
    def _():
        alice = s.need('user:' + ALICE)
        listing = s.awx_json('users', 'list', '--username', ALICE)
        check(
            listing.get('count') == 1 and [u['id'] for u in results_of(listing)] == [alice],
            f'expected only {ALICE}: {short(listing)}',
        )

    @s.step('cli: users list --all')
    def _():
        s.need('user:' + ALICE)
        names = names_in(s.awx_json('users', 'list', '--all'), 'username')
        check({s.username, ALICE, BOB, TEMP_USER} <= set(names), f'expected admin and the e2e users among {names}')

    @s.step('cli: users get and modify')
    def _():
        alice = s.need('user:' + ALICE)
        check(s.awx_json('users', 'get', ALICE).get('id') == alice, f'`awx users get {ALICE}` found another user')
        user = s.awx_json('users', 'modify', ALICE, '--first_name', 'Alicia')
        check(user.get('first_name') == 'Alicia', f'modify answered {short(user)}')

    @s.step('cli: users delete')
    def _():
        temp = s.need('user:' + TEMP_USER)
        s.awx('users', 'delete', TEMP_USER)
        status, body = s.http('GET', f'/api/v2/users/{temp}/')
        check(status == 404, f'after delete GET /api/v2/users/{temp}/ -> {status}: {short(body)}')


def cli_teams(s):
    @s.step('cli: teams create')
    def _():
        org_id = s.need('org:' + ORG)
        for name in (TEAM, TEMP_TEAM):
            team = s.awx_json('teams', 'create', '--name', name, '--organization', ORG, '--description', 'e2e team')
            check(
                team.get('name') == name and team.get('organization') == org_id,
                f'create answered {short(team)} (organization should be {org_id})',
            )
            s.ctx['team:' + name] = team['id']

    @s.step('cli: teams list --name filter and --all')
    def _():
        team_id = s.need('team:' + TEAM)
        listing = s.awx_json('teams', 'list', '--name', TEAM)
        check([t['id'] for t in results_of(listing)] == [team_id], f'expected only {TEAM}: {short(listing)}')
        names = names_in(s.awx_json('teams', 'list', '--all'))
        check({TEAM, TEMP_TEAM} <= set(names), f'expected both e2e teams among {names}')

    @s.step('cli: users join a team (grant --team --role member)')
    def _():
        team_id, alice = s.need('team:' + TEAM, 'user:' + ALICE)
        s.awx('users', 'grant', '--team', TEAM, '--role', 'member', ALICE)
        check(
            alice in {u['id'] for u in s.find(f'teams/{team_id}/users')},
            f'{ALICE} is not among GET /api/v2/teams/{team_id}/users/',
        )

    @s.step('cli: teams get, modify and delete')
    def _():
        team_id, temp_id = s.need('team:' + TEAM, 'team:' + TEMP_TEAM)
        check(s.awx_json('teams', 'get', TEAM).get('id') == team_id, f'`awx teams get {TEAM}` found another team')
        team = s.awx_json('teams', 'modify', TEAM, '--description', 'modified by the CLI')
        check(team.get('description') == 'modified by the CLI', f'modify answered {short(team)}')
        s.awx('teams', 'delete', TEMP_TEAM)
        status, body = s.http('GET', f'/api/v2/teams/{temp_id}/')
        check(status == 404, f'after delete GET /api/v2/teams/{temp_id}/ -> {status}: {short(body)}')


def cli_credential_types(s):
    @s.step('cli: credential_types create (custom, inputs and injectors as JSON)')
    def _():
        temp_inputs = {'fields': [{'id': 'host', 'label': 'Host', 'type': 'string'}]}
        temp = s.awx_json(
            'credential_types', 'create', *flags(name=TEMP_CTYPE, kind='net', inputs=temp_inputs, injectors={})
        )
        check(isinstance(temp.get('id'), int), f'create answered {short(temp)}')
        s.ctx['ctype:' + TEMP_CTYPE] = temp['id']
        ctype = s.awx_json(
            'credential_types',
            'create',
            *flags(name=CTYPE, description='e2e custom type', kind='cloud'),
            *flags(inputs=CUSTOM_INPUTS, injectors=CUSTOM_INJECTORS),
        )
        check(isinstance(ctype.get('id'), int), f'create answered {short(ctype)}')
        s.ctx['ctype:' + CTYPE] = ctype['id']
        check(
            ctype.get('inputs') == CUSTOM_INPUTS,
            f"inputs must come back verbatim\n sent: {short(CUSTOM_INPUTS)}\n got:  {short(ctype.get('inputs'))}",
        )
        check(
            ctype.get('injectors') == CUSTOM_INJECTORS,
            f"injectors must come back verbatim\n sent: {short(CUSTOM_INJECTORS)}\n got:  {short(ctype.get('injectors'))}",
        )
        check(
            ctype.get('managed') is False and ctype.get('kind') == 'cloud',
            f"expected managed false, kind cloud: managed={ctype.get('managed')!r} kind={ctype.get('kind')!r}",
        )

    @s.step('cli: credential_types list --name filter, --managed filter and --all')
    def _():
        ctype_id = s.need('ctype:' + CTYPE)
        listing = s.awx_json('credential_types', 'list', '--name', CTYPE)
        check([t['id'] for t in results_of(listing)] == [ctype_id], f'expected only {CTYPE}: {short(listing)}')
        # The CLI turns booleans into 1/0, so this asks for ?managed=1.
        managed = results_of(s.awx_json('credential_types', 'list', '--managed', 'true', '--all'))
        check(
            managed and all(t.get('managed') is True for t in managed),
            f"--managed true returned unmanaged types: {[t.get('name') for t in managed if not t.get('managed')]}",
        )
        check('Machine' in [t['name'] for t in managed], 'Machine is missing from the managed types')
        check(CTYPE not in [t['name'] for t in managed], f'{CTYPE} is not managed but was listed')
        everything = names_in(s.awx_json('credential_types', 'list', '--all'))
        check(
            {CTYPE, TEMP_CTYPE, 'Machine', 'Source Control', 'Amazon Web Services', 'HashiCorp Vault Secret Lookup'}
            <= set(everything),
            f'--all is missing types: {everything}',
        )

    @s.step('cli: credential_types get and modify (injectors as JSON)')
    def _():
        ctype_id = s.need('ctype:' + CTYPE)
        check(
            s.awx_json('credential_types', 'get', CTYPE).get('id') == ctype_id,
            f'`awx credential_types get {CTYPE}` found another type',
        )
        injectors = dict(CUSTOM_INJECTORS, env=dict(CUSTOM_INJECTORS['env'], E2E_MODE='test'))
        ctype = s.awx_json(
            'credential_types', 'modify', CTYPE, *flags(description='modified by the CLI', injectors=injectors)
        )
        check(
            ctype.get('description') == 'modified by the CLI' and ctype.get('injectors') == injectors,
            f'modify answered {short(ctype)}',
        )
        check(
            s.api_get(f'/api/v2/credential_types/{ctype_id}/').get('injectors') == injectors,
            'the new injectors did not stick',
        )

    @s.step('cli: credential_types delete')
    def _():
        temp_id = s.need('ctype:' + TEMP_CTYPE)
        s.awx('credential_types', 'delete', TEMP_CTYPE)
        status, body = s.http('GET', f'/api/v2/credential_types/{temp_id}/')
        check(status == 404, f'after delete GET /api/v2/credential_types/{temp_id}/ -> {status}: {short(body)}')


def cli_credentials(s):
    def create(name, ctype, inputs, kind, secret_fields):
        cred = s.awx_json(
            'credentials',
            'create',
            *flags(name=name, organization=ORG, credential_type=ctype, description=f'{ctype} credential'),
            *flags(inputs=inputs),
        )
        check(isinstance(cred.get('id'), int), f'create answered {short(cred)}')
        s.ctx['cred:' + name] = cred['id']
        check(
            cred.get('organization') == s.ctx['org:' + ORG],
            f"organization should be {s.ctx['org:' + ORG]}: {cred.get('organization')!r}",
        )
        check(cred.get('kind') == kind, f"kind should be {kind!r}: {cred.get('kind')!r}")
        for field in secret_fields:
            check(
                cred.get('inputs', {}).get(field) == ENCRYPTED,
                f"secret input {field} must read back as $encrypted$: {short(cred.get('inputs'))}",
            )
        return cred

    @s.step('cli: credentials create Machine with an ssh-keygen ed25519 key')
    def _():
        s.need('org:' + ORG)
        key = os.path.join(s.workdir, 'id_ed25519')
        subprocess.run(
            ['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'credstore-e2e', '-f', key],
            check=True,
            capture_output=True,
        )
        # The CLI reads a top-level JSON value of "@path" from that file: the
        # documented way to pass an SSH key.
        cred = create(MACHINE, 'Machine', {'username': 'deploy', 'ssh_key_data': '@' + key}, 'ssh', ['ssh_key_data'])
        check(cred['inputs'].get('username') == 'deploy', f"username: {short(cred['inputs'])}")

    @s.step('cli: credentials create Source Control')
    def _():
        s.need('org:' + ORG)
        create(SCM, 'Source Control', {'username': 'git-bot', 'password': 'scm-secret-1'}, 'scm', ['password'])

    @s.step('cli: credentials create Amazon Web Services')
    def _():
        s.need('org:' + ORG)
        create(
            AWS,
            'Amazon Web Services',
            {'username': 'AKIAE2EEXAMPLE', 'password': 'aws-secret-key'},
            'aws',
            ['password'],
        )

    @s.step('cli: credentials create HashiCorp Vault Secret Lookup')
    def _():
        s.need('org:' + ORG)
        create(
            VAULT,
            'HashiCorp Vault Secret Lookup',
            {'url': 'https://vault.example.com:8200', 'token': 's.e2e-token', 'api_version': 'v2'},
            'hashivault_kv',
            ['token'],
        )

    @s.step('cli: credentials create of the custom type, and a temporary one')
    def _():
        s.need('org:' + ORG, 'ctype:' + CTYPE)
        # A custom type has no namespace, so AWX gives its credentials kind null.
        create(API_CRED, CTYPE, {'url': 'https://api.example.com', 'token': 'api-token-1'}, None, ['token'])
        create(TEMP_CRED, 'Source Control', {'username': 'temp'}, 'scm', [])

    @s.step('cli: credentials list --name, --credential_type filters and --all')
    def _():
        machine_id, aws_id = s.need('cred:' + MACHINE, 'cred:' + AWS)
        listing = s.awx_json('credentials', 'list', '--name', MACHINE)
        check([c['id'] for c in results_of(listing)] == [machine_id], f'expected only {MACHINE}: {short(listing)}')
        check(
            results_of(listing)[0].get('inputs', {}).get('ssh_key_data') == ENCRYPTED,
            'list rows must carry inputs with secrets masked',
        )
        aws_type = s.find('credential_types', name='Amazon Web Services')[0]['id']
        listing = s.awx_json('credentials', 'list', '--credential_type', str(aws_type))
        check(
            [c['id'] for c in results_of(listing)] == [aws_id],
            f'--credential_type {aws_type} should give only {AWS}: {short(listing)}',
        )
        names = names_in(s.awx_json('credentials', 'list', '--all'))
        check({MACHINE, SCM, AWS, VAULT, API_CRED, TEMP_CRED} <= set(names), f'--all is missing credentials: {names}')

    @s.step('cli: credentials get')
    def _():
        machine_id = s.need('cred:' + MACHINE)
        cred = s.awx_json('credentials', 'get', MACHINE)
        check(
            cred.get('id') == machine_id and cred.get('inputs', {}).get('ssh_key_data') == ENCRYPTED,
            f'get answered {short(cred)}',
        )
        check(
            cred.get('summary_fields', {}).get('object_roles', {}).get('use_role', {}).get('id'),
            'summary_fields.object_roles.use_role.id is missing',
        )

    @s.step('cli: credentials modify (description; inputs keeping a secret with $encrypted$)')
    def _():
        scm_id = s.need('cred:' + SCM)
        cred = s.awx_json('credentials', 'modify', SCM, '--description', 'modified by the CLI')
        check(cred.get('description') == 'modified by the CLI', f'modify answered {short(cred)}')
        cred = s.awx_json('credentials', 'modify', SCM, *flags(inputs={'username': 'git-bot-2', 'password': ENCRYPTED}))
        check(
            cred.get('inputs') == {'username': 'git-bot-2', 'password': ENCRYPTED},
            f"inputs after modify: {short(cred.get('inputs'))}",
        )
        stored = s.api_get(f'/api/v2/credentials/{scm_id}/')['inputs']
        check(stored == {'username': 'git-bot-2', 'password': ENCRYPTED}, f'stored inputs: {short(stored)}')

    @s.step('cli: credentials delete')
    def _():
        temp_id = s.need('cred:' + TEMP_CRED)
        s.awx('credentials', 'delete', TEMP_CRED)
        status, body = s.http('GET', f'/api/v2/credentials/{temp_id}/')
        check(status == 404, f'after delete GET /api/v2/credentials/{temp_id}/ -> {status}: {short(body)}')


def cli_roles(s):
    def role_id(cred_name, role):
        cred = s.api_get(f"/api/v2/credentials/{s.ctx['cred:' + cred_name]}/")
        return cred['summary_fields']['object_roles'][role + '_role']['id']

    def grant_revoke(command, actor, actor_id, role):
        """command is 'users' or 'teams', which is also the kind of role member."""
        s.need('cred:' + MACHINE)
        rid = role_id(MACHINE, role)
        s.awx(command, 'grant', '--credential', MACHINE, '--role', role, actor)
        check(
            actor_id in s.role_members(rid, command),
            f'after grant, {actor} is not in GET /api/v2/roles/{rid}/{command}/',
        )
        s.awx(command, 'revoke', '--credential', MACHINE, '--role', role, actor)
        check(
            actor_id not in s.role_members(rid, command),
            f'after revoke, {actor} is still in GET /api/v2/roles/{rid}/{command}/',
        )
        # Leave the grant in place, so that the credential ends with an access list.
        s.awx(command, 'grant', '--credential', MACHINE, '--role', role, actor)
        check(
            actor_id in s.role_members(rid, command),
            f'after the second grant, {actor} is not in GET /api/v2/roles/{rid}/{command}/',
        )

    for role in ('use', 'read'):

        @s.step(f'cli: users grant and revoke --role {role} on a credential (member of its organization)')
        def _():
            grant_revoke('users', ALICE, s.need('user:' + ALICE), role)

        @s.step(f'cli: teams grant and revoke --role {role} on a credential (team of its organization)')
        def _():
            grant_revoke('teams', TEAM, s.need('team:' + TEAM), role)

    @s.step('cli: users grant on a credential is refused for a user outside its organization')
    def _():
        s.need('cred:' + MACHINE, 'user:' + BOB)
        rid = role_id(MACHINE, 'use')
        bob = s.ctx['user:' + BOB]
        _, _, stderr = s.awx('users', 'grant', '--credential', MACHINE, '--role', 'use', BOB, ok=False)
        check(bob not in s.role_members(rid, 'users'), f'{BOB} got the use role anyway')
        # Refused by the server (AWX: 400 "You cannot grant credential access to
        # a user not in the credentials' organization"), not by the CLI itself.
        check(
            f'"POST /api/v2/users/{bob}/roles/ HTTP/1.1" 400' in stderr,
            f'expected the CLI to get 400 from POST /api/v2/users/{bob}/roles/\n' + wire_log(stderr),
        )


def library(s):
    # Imported here so that a broken awxkit install fails these steps, not the run.
    from awxkit import api, config, utils
    from awxkit.api.client import Connection

    @s.step('library: session login from config.base_url and config.credentials')
    def _():
        config.base_url = s.host
        config.credentials = utils.PseudoNamespace({'default': {'username': s.username, 'password': s.password}})
        root = api.Api().load_session().get()
        v2 = root.current_version.get()
        me = v2.me.get()
        check(me.count == 1 and me.results[0].username == s.username, f'/me/ answered {short(me.json)}')
        s.ctx['lib:v2'] = v2

    @s.step('library: copy a credential')
    def _():
        machine_id = s.need('cred:' + MACHINE)
        conn = Connection(s.host)
        conn.login(s.username, s.password)  # HTTP Basic on every request
        v2 = api.Api(connection=conn).get().current_version.get()
        source = v2.credentials.get(id=machine_id).results[0]
        check(source.can_copy() is True, 'GET related.copy should say can_copy: true')
        copy = source.copy(name=COPY)
        check(copy.id != machine_id and copy.name == COPY, f'copy answered {short(copy.json)}')
        check(
            copy.credential_type == source.credential_type and copy.organization == source.organization,
            f'the copy differs from its source: {short(copy.json)}',
        )
        check(
            copy.inputs.get('ssh_key_data') == ENCRYPTED and copy.inputs.get('username') == 'deploy',
            f'copied inputs: {short(copy.json.get("inputs"))}',
        )
        s.ctx['cred:' + COPY] = copy.id

    @s.step(f'library: create {PAGED_COUNT} credentials and page through them with a filter')
    def _():
        v2, ctype_id, org_id = s.need('lib:v2', 'ctype:' + CTYPE, 'org:' + ORG)
        expected = PAGED_COUNT + len(s.find('credentials', credential_type=ctype_id))
        for i in range(PAGED_COUNT):
            v2.credentials.post(
                {
                    'name': f'{PAGED_PREFIX}{i:02d}',
                    'credential_type': ctype_id,
                    'organization': org_id,
                    'inputs': {'url': f'https://paged-{i}.example.com'},
                }
            )
        # Small pages and a filter: each `next` must keep both.
        page = v2.credentials.get(credential_type=ctype_id, page_size=7, order_by='name')
        check(page.count == expected, f'count should be {expected}: {page.count}')
        seen, pages = [], 0
        while True:
            pages += 1
            check(pages <= 10, 'more pages than there should be: is `next` looping?')
            check(
                all(r.credential_type == ctype_id for r in page.results),
                f'page {pages} has credentials of other types: `next` lost the filter ({page.json.get("previous")!r})',
            )
            seen += [r.id for r in page.results]
            nxt = page.json.get('next')
            if not nxt:
                break
            check(nxt.startswith('/api/'), f'next must be a relative path starting with /api/: {nxt!r}')
            page = page.go_to_next()
        check(
            pages == -(-expected // 7), f'{expected} results at 7 a page should be {-(-expected // 7)} pages: {pages}'
        )
        check(
            len(seen) == expected == len(set(seen)),
            f'paging gave {len(seen)} results, {len(set(seen))} distinct; expected {expected}',
        )
        everything = v2.credentials.get(credential_type=ctype_id, page_size=7, all_pages=True)
        check(len(everything.results) == expected, f'get(all_pages=True) gave {len(everything.results)} results')


def cli_paging(s):
    @s.step('cli: credentials list --all follows next across pages')
    def _():
        ctype_id = s.need('ctype:' + CTYPE)
        first = s.awx_json('credentials', 'list', '--credential_type', str(ctype_id))
        everything = s.awx_json('credentials', 'list', '--credential_type', str(ctype_id), '--all')
        total = first.get('count')
        check(
            isinstance(total, int) and total > len(results_of(first)),
            f'expected more than one page of credentials of {CTYPE}: count {total}, first page {len(results_of(first))}',
        )
        ids = [c['id'] for c in results_of(everything)]
        check(
            len(ids) == total == len(set(ids)),
            f'--all gave {len(ids)} results ({len(set(ids))} distinct), count says {total}',
        )
        check(
            all(c.get('credential_type') == ctype_id for c in results_of(everything)),
            '--all returned credentials of other types: `next` lost the filter',
        )


def playbooks(s):
    present_tasks = [
        'Custom credential type',
        'Vault lookup credential',
        'Credential of the custom type',
        'Token of the service credential comes from Vault',
        'User may use the service credential',
        'Team may read the service credential',
    ]
    absent_guarded = [
        'User may no longer use the service credential',
        'Team may no longer read the service credential',
        'Token of the service credential no longer comes from Vault',
        'Credential of the custom type is gone',
    ]
    absent_always = ['Vault lookup credential is gone', 'Custom credential type is gone']

    @s.step('library: organization, user (member) and team for the playbooks')
    def _():
        _, org = s.http('POST', '/api/v2/organizations/', {'name': PB['org_name']})
        check(isinstance(org, dict) and 'id' in org, f'POST /api/v2/organizations/: {short(org)}')
        _, user = s.http('POST', '/api/v2/users/', {'username': PB['user_name'], 'password': 'e2e-Passw0rd!'})
        check(isinstance(user, dict) and 'id' in user, f'POST /api/v2/users/: {short(user)}')
        status, body = s.http('POST', f"/api/v2/organizations/{org['id']}/users/", {'id': user['id']})
        check(status == 204, f"POST /api/v2/organizations/{org['id']}/users/ -> {status}: {short(body)}")
        _, team = s.http('POST', '/api/v2/teams/', {'name': PB['team_name'], 'organization': org['id']})
        check(isinstance(team, dict) and 'id' in team, f'POST /api/v2/teams/: {short(team)}')
        s.ctx.update({'pb:org': org['id'], 'pb:user': user['id'], 'pb:team': team['id']})

    @s.step('ansible: server has /api/v2/credential_input_sources/ (awx.awx.credential_input_source needs it)')
    def _():
        status, body = s.http('GET', '/api/v2/credential_input_sources/')
        check(
            status != 404,
            'server lacks /api/v2/credential_input_sources/: GET answered 404, so awx.awx.credential_input_source cannot work',
        )
        check(
            status == 200 and isinstance(body, dict) and 'results' in body,
            f'GET /api/v2/credential_input_sources/ -> {status}: {short(body)}',
        )

    @s.step('ansible: present.yml first run changes every task')
    def _():
        s.need('pb:org')
        return s.playbook('present.yml', PB).expect(changed_tasks=present_tasks)

    @s.step('ansible: present.yml left the right objects on the server')
    def _():
        s.need('pb:org')
        ctypes = s.find('credential_types', name=PB['type_name'])
        check(len(ctypes) == 1, f"credential type {PB['type_name']!r}: {len(ctypes)} found")
        services = s.find('credentials', name=PB['service_name'])
        vaults = s.find('credentials', name=PB['vault_name'])
        check(
            len(services) == 1 and len(vaults) == 1,
            f'service credentials {len(services)}, vault credentials {len(vaults)}',
        )
        service, vault = services[0], vaults[0]
        check(
            service['organization'] == s.ctx['pb:org'] and service['inputs'] == {'url': 'https://service.example.com'},
            f'service credential: {short(service)}',
        )
        check(vault['inputs'].get('token') == ENCRYPTED, f"vault token must be masked: {short(vault['inputs'])}")
        sources = s.find('credential_input_sources', target_credential=service['id'])
        check(
            len(sources) == 1
            and sources[0]['source_credential'] == vault['id']
            and sources[0]['input_field_name'] == 'token',
            f'input sources of the service credential: {short(sources)}',
        )
        roles = service['summary_fields']['object_roles']
        check(
            s.ctx['pb:user'] in s.role_members(roles['use_role']['id'], 'users'),
            f"{PB['user_name']} did not get the use role",
        )
        check(
            s.ctx['pb:team'] in s.role_members(roles['read_role']['id'], 'teams'),
            f"{PB['team_name']} did not get the read role",
        )

    @s.step('ansible: present.yml second run changes nothing (idempotent)')
    def _():
        s.need('pb:org')
        return s.playbook('present.yml', PB).expect(changed_tasks=[], unchanged_tasks=present_tasks)

    @s.step('ansible: absent.yml first run changes every task')
    def _():
        s.need('pb:org')
        return s.playbook('absent.yml', PB).expect(changed_tasks=absent_guarded + absent_always)

    @s.step('ansible: absent.yml second run changes nothing')
    def _():
        s.need('pb:org')
        result = s.playbook('absent.yml', PB)
        note = result.expect(changed_tasks=[], unchanged_tasks=absent_always, skipped_tasks=absent_guarded)
        check(
            not s.find('credentials', name=PB['service_name']) and not s.find('credential_types', name=PB['type_name']),
            'objects are left on the server',
        )
        return note


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', required=True, help='http://127.0.0.1:PORT')
    parser.add_argument('--username', default='admin')
    parser.add_argument('--password', required=True)
    parser.add_argument('--summary-file', help='where to write "N passed, M failed"')
    parser.add_argument('--credstore-bin', required=True, help='the credstore binary (for `credstore run`)')
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix='credstore-clients-') as workdir:
        s = Scenario(args.host, args.username, args.password, workdir)
        s.credstore_bin = os.path.abspath(args.credstore_bin)
        try:
            run(s)
        except Exception:  # the step wrapper catches step errors; this is a bug in the scenario itself
            traceback.print_exc()
            s.failed.append('scenario crashed')

    summary = f'{s.passed} passed, {len(s.failed)} failed'
    if s.failed:
        print('\nFailed steps:\n' + '\n'.join('  - ' + name for name in s.failed))
    if args.summary_file:
        with open(args.summary_file, 'w') as f:
            f.write(summary + '\n')
    else:
        print(summary)
    return 1 if s.failed else 0


if __name__ == '__main__':
    sys.exit(main())
