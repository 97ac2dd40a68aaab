"""Using credentials stored in credstore with the real tools: `credstore run --
ansible-playbook` with a custom type, a Machine credential logging into a real OpenSSH
server (through `credstore run` and through `credstore render --runner-dir` with
ansible-runner), aws and gce credentials, access refusals, and the audit trail read back.

Steps of the client scenario (scenario.py), run against the same server.
"""

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time

from support import check, short

SECRET = 'tok-3f9a1c-run-secret'
SSHD = '/usr/sbin/sshd'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Tools:
    def __init__(self, s, credstore_bin):
        self.s = s
        self.bin = credstore_bin
        self.venv_bin = os.path.dirname(sys.executable)

    def env(self, username=None, password=None, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith(('CONTROLLER_', 'TOWER_', 'ANSIBLE_'))}
        env.update(
            CONTROLLER_HOST=self.s.host,
            CONTROLLER_USERNAME=username or self.s.username,
            CONTROLLER_PASSWORD=password or self.s.password,
            PATH=self.venv_bin + os.pathsep + env.get('PATH', ''),
            ANSIBLE_HOST_KEY_CHECKING='False',
            ANSIBLE_NOCOLOR='1',
        )
        env.update(extra)
        return env

    def credstore(self, *args, env=None, timeout=300):
        return subprocess.run(
            [self.bin, *args], capture_output=True, text=True, env=env or self.env(), timeout=timeout
        )


def create(s, path, body):
    status, obj = s.http('POST', path, body)
    check(status == 201 and isinstance(obj, dict), f'POST {path} -> {status}: {short(obj)}')
    return obj['id']


def type_id(s, namespace):
    return s.find('credential_types', namespace=namespace)[0]['id']


def write(path, text, mode=0o644):
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)


def outputs(result):
    return f'exit {result.returncode}\nstdout: {short(result.stdout, 3000)}\nstderr: {short(result.stderr, 3000)}'


CUSTOM_PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: env, extra vars and the file are there
      ansible.builtin.assert:
        that:
          - lookup('env', 'SVC_TOKEN') == expected_token
          - lookup('env', 'SVC_USER') == 'alice'
          - svc_user == 'alice'
          - svc_token == expected_token
          - lookup('file', lookup('env', 'SVC_CONF')) == 'token=' ~ expected_token
        quiet: true
    - name: stat the file
      ansible.builtin.stat:
        path: "{{ lookup('env', 'SVC_CONF') }}"
      register: conf
    - name: the file is private
      ansible.builtin.assert:
        that:
          - conf.stat.exists
          - conf.stat.mode == '0600'
        quiet: true
    - name: remember where the file was
      ansible.builtin.copy:
        content: "{{ lookup('env', 'SVC_CONF') }}"
        dest: "{{ marker }}"
"""

SSH_PLAYBOOK = """
- hosts: target
  gather_facts: false
  tasks:
    - name: who am I over ssh
      ansible.builtin.command: id -un
      register: who
    - name: logged in as the credential's user
      ansible.builtin.assert:
        that: who.stdout == expected_user
        quiet: true
    - name: leave a mark
      ansible.builtin.copy:
        content: "{{ mark }}"
        dest: "{{ marker }}"
"""


def start_sshd(workdir):
    """A non-privileged OpenSSH server on a free loopback port, with its own host key and
    an authorized key; returns (process, port, client private key text)."""
    d = os.path.join(workdir, 'sshd')
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o700)
    for name in ('host_key', 'client_key'):
        path = os.path.join(d, name)
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path], check=True)
    shutil.copy(os.path.join(d, 'client_key.pub'), os.path.join(d, 'authorized_keys'))
    os.chmod(os.path.join(d, 'authorized_keys'), 0o600)
    port = free_port()
    config = os.path.join(d, 'sshd_config')
    write(
        config,
        '\n'.join(
            [
                f'Port {port}',
                'ListenAddress 127.0.0.1',
                f'HostKey {d}/host_key',
                f'AuthorizedKeysFile {d}/authorized_keys',
                f'PidFile {d}/sshd.pid',
                'StrictModes no',
                'UsePAM no',
                'PasswordAuthentication no',
                'KbdInteractiveAuthentication no',
                'PubkeyAuthentication yes',
                'PermitRootLogin prohibit-password',
                'AllowTcpForwarding no',
                'X11Forwarding no',
                'LogLevel VERBOSE',
                '',
            ]
        ),
    )
    os.makedirs('/run/sshd', exist_ok=True) if os.geteuid() == 0 else None
    log = open(os.path.join(d, 'sshd.log'), 'w')
    proc = subprocess.Popen([SSHD, '-D', '-e', '-f', config], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(100):
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    check(proc.poll() is None, 'sshd did not start: ' + open(os.path.join(d, 'sshd.log')).read()[-2000:])
    with open(os.path.join(d, 'client_key')) as f:
        key = f.read()
    return proc, port, key, os.path.join(d, 'sshd.log')


def use_credentials(s, credstore_bin):
    t = Tools(s, credstore_bin)
    w = s.workdir

    @s.step('use: a custom credential reaches ansible-playbook through credstore run')
    def _():
        ty = create(
            s,
            '/api/v2/credential_types/',
            {
                'name': 'e2e run service',
                'kind': 'cloud',
                'inputs': {
                    'fields': [
                        {'id': 'user', 'label': 'User', 'type': 'string'},
                        {'id': 'token', 'label': 'Token', 'type': 'string', 'secret': True},
                    ]
                },
                'injectors': {
                    'file': {'template': 'token={{ token }}'},
                    'env': {'SVC_TOKEN': '{{ token }}', 'SVC_USER': '{{ user }}', 'SVC_CONF': '{{ tower.filename }}'},
                    'extra_vars': {'svc_user': '{{ user }}', 'svc_token': '{{ token }}'},
                },
            },
        )
        org = create(s, '/api/v2/organizations/', {'name': 'e2e run org'})
        cred = create(
            s,
            '/api/v2/credentials/',
            {'name': 'e2e run cred', 'organization': org, 'credential_type': ty,
             'inputs': {'user': 'alice', 'token': SECRET}},
        )
        s.ctx.update({'use:org': org, 'use:cred': cred})
        playbook = os.path.join(w, 'custom.yml')
        write(playbook, CUSTOM_PLAYBOOK)
        marker = os.path.join(w, 'custom-marker')
        r = t.credstore(
            'run', '--credential', 'e2e run cred', '--purpose', 'e2e playbook', '--',
            'ansible-playbook', '-i', 'localhost,', playbook,
            '-e', json.dumps({'expected_token': SECRET, 'marker': marker, 'ansible_python_interpreter': sys.executable}),
        )
        check(r.returncode == 0, 'credstore run failed\n' + outputs(r))
        check(SECRET not in r.stderr, 'the secret was printed on stderr')
        with open(marker) as f:
            used_path = f.read()
        check(used_path.startswith('/') and not os.path.exists(os.path.dirname(used_path)),
              f'the private directory {os.path.dirname(used_path)} is still there')
        return 'playbook asserted env, extra vars and a 0600 file; directory removed'

    @s.step('use: the render is in the audit trail, without the value')
    def _():
        cred = s.need('use:cred')
        stream = s.api_get(f'/api/v2/credentials/{cred}/activity_stream/?operation=use&order_by=-timestamp')
        check(stream['count'] >= 1, f'no use entry: {short(stream)}')
        entry = stream['results'][0]
        check(entry['changes'].get('purpose') == 'e2e playbook', f'purpose: {short(entry)}')
        check(entry['summary_fields']['actor']['username'] == s.username, f'actor: {short(entry)}')
        check(SECRET not in json.dumps(stream), 'the secret is in the activity stream')

    @s.step('use: read-only and unrelated users are refused, with no secret')
    def _():
        cred, org = s.need('use:cred', 'use:org')
        for name in ('e2e-run-reader', 'e2e-run-stranger'):
            uid = create(s, '/api/v2/users/', {'username': name, 'password': 'e2e-Passw0rd!'})
            if name.endswith('reader'):
                s.http('POST', f'/api/v2/organizations/{org}/users/', {'id': uid})
                read_role = s.api_get(f'/api/v2/credentials/{cred}/')['summary_fields']['object_roles']['read_role']['id']
                status, body = s.http('POST', f'/api/v2/users/{uid}/roles/', {'id': read_role})
                check(status == 204, f'grant read: {status} {short(body)}')
        for name, wanted in (('e2e-run-reader', '403'), ('e2e-run-stranger', 'no credential named')):
            r = t.credstore('run', '--credential', 'e2e run cred', '--', 'true',
                            env=t.env(username=name, password='e2e-Passw0rd!'))
            check(r.returncode != 0 and wanted in r.stderr, f'{name}: ' + outputs(r))
            check(SECRET not in r.stdout + r.stderr, f'{name}: secret printed')

    @s.step('use: bad input gets clear messages (missing command, bad token, no server)')
    def _():
        r = t.credstore('run', '--credential', 'e2e run cred', '--', 'no-such-command-xyz')
        check(r.returncode == 127 and 'command not found' in r.stderr, outputs(r))
        env = t.env(CONTROLLER_OAUTH_TOKEN='expired-token-value')
        r = t.credstore('run', '--credential', 'e2e run cred', '--', 'true', env=env)
        check(r.returncode != 0 and '401' in r.stderr and 'expired-token-value' not in r.stderr, outputs(r))
        env = t.env(CONTROLLER_HOST=f'http://127.0.0.1:{free_port()}')
        r = t.credstore('run', '--credential', 'e2e run cred', '--', 'true', env=env)
        check(r.returncode != 0 and 'cannot reach' in r.stderr, outputs(r))

    @s.step('use: credstore run passes the exit status on and cleans up on SIGTERM')
    def _():
        r = t.credstore('run', '--credential', 'e2e run cred', '--', 'sh', '-c', 'exit 7')
        check(r.returncode == 7, outputs(r))
        marker = os.path.join(w, 'sigterm-dir')
        proc = subprocess.Popen(
            [t.bin, 'run', '--credential', 'e2e run cred', '--', 'sh', '-c',
             f'dirname "$SVC_CONF" > {marker}; exec sleep 60'],
            env=t.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(200):
            if os.path.exists(marker) and open(marker).read().strip():
                break
            time.sleep(0.05)
        run_dir = open(marker).read().strip()
        check(os.path.isdir(run_dir), f'no private directory while running: {run_dir!r}')
        proc.terminate()
        out, err = proc.communicate(timeout=30)
        check(proc.returncode == 128 + 15, f'exit {proc.returncode}: {err}')
        check(not os.path.exists(run_dir), f'{run_dir} left behind after SIGTERM')

    @s.step('use: aws and gce credentials render as AWX injects them')
    def _():
        aws = create(s, '/api/v2/credentials/', {
            'name': 'e2e aws', 'credential_type': type_id(s, 'aws'), 'organization': s.need('use:org'),
            'inputs': {'username': 'AKIAE2EEXAMPLE', 'password': 'aws-secret-e2e', 'security_token': 'sts-e2e'}})
        r = t.credstore('run', '--credential', str(aws), '--', sys.executable, '-c',
                        'import json, os; print(json.dumps({k: os.environ.get(k) for k in '
                        '["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"]}))')
        check(r.returncode == 0, outputs(r))
        got = json.loads(r.stdout)
        check(got == {'AWS_ACCESS_KEY_ID': 'AKIAE2EEXAMPLE', 'AWS_SECRET_ACCESS_KEY': 'aws-secret-e2e',
                      'AWS_SECURITY_TOKEN': 'sts-e2e', 'AWS_SESSION_TOKEN': 'sts-e2e'}, f'aws env: {got}')
        key = subprocess.run(['openssl', 'genrsa', '2048'], capture_output=True, text=True, check=True).stdout
        gce = create(s, '/api/v2/credentials/', {
            'name': 'e2e gce', 'credential_type': type_id(s, 'gce'), 'organization': s.need('use:org'),
            'inputs': {'username': 'e2e@proj.iam.gserviceaccount.com', 'project': 'e2e-proj', 'ssh_key_data': key}})
        r = t.credstore('run', '--credential', str(gce), '--', sys.executable, '-c',
                        'import json, os; d = json.load(open(os.environ["GOOGLE_APPLICATION_CREDENTIALS"] '
                        'if "GOOGLE_APPLICATION_CREDENTIALS" in os.environ else os.environ["GCE_CREDENTIALS_FILE_PATH"])); '
                        'print(json.dumps([d["type"], d["client_email"], d["project_id"], "PRIVATE KEY" in d["private_key"], '
                        'os.environ["GCP_PROJECT"]]))')
        check(r.returncode == 0, outputs(r))
        check(json.loads(r.stdout) == ['service_account', 'e2e@proj.iam.gserviceaccount.com', 'e2e-proj', True, 'e2e-proj'],
              f'gce file: {r.stdout}')

    if not os.access(SSHD, os.X_OK):
        @s.step('use: a Machine credential logs into a real OpenSSH server')
        def _():
            check(False, f'{SSHD} is missing (Debian: openssh-server)')
        return

    sshd = {}

    @s.step('use: a Machine credential logs into OpenSSH through credstore run -- ansible-playbook')
    def _():
        proc, port, key, log = start_sshd(w)
        sshd.update(proc=proc, log=log)
        user = getpass.getuser()
        machine = create(s, '/api/v2/credentials/', {
            'name': 'e2e machine', 'credential_type': type_id(s, 'ssh'), 'organization': s.need('use:org'),
            'inputs': {'username': user, 'ssh_key_data': key}})
        s.ctx['use:machine'] = machine
        inventory = os.path.join(w, 'ssh-inventory')
        write(inventory, f'target ansible_host=127.0.0.1 ansible_port={port} ansible_python_interpreter={sys.executable}\n')
        sshd['inventory'] = inventory
        playbook = os.path.join(w, 'ssh.yml')
        write(playbook, SSH_PLAYBOOK)
        marker = os.path.join(w, 'ssh-marker')
        r = t.credstore('run', '--credential', 'e2e machine', '--', 'ansible-playbook', '-i', inventory, playbook,
                        '-e', json.dumps({'expected_user': user, 'mark': 'via-run', 'marker': marker}))
        check(r.returncode == 0, outputs(r) + '\nsshd log: ' + open(log).read()[-1500:])
        check(open(marker).read() == 'via-run', 'the playbook did not run over ssh')
        check('Accepted publickey' in open(log).read(), 'sshd saw no public-key login')
        return f'logged in as {user} on port {port}'

    @s.step('use: the same Machine credential through credstore render --runner-dir and ansible-runner')
    def _():
        s.need('use:machine')
        d = os.path.join(w, 'runner')
        os.makedirs(os.path.join(d, 'project'))
        os.makedirs(os.path.join(d, 'inventory'))
        shutil.copy(sshd['inventory'], os.path.join(d, 'inventory', 'hosts'))
        write(os.path.join(d, 'project', 'ssh.yml'), SSH_PLAYBOOK)
        marker = os.path.join(w, 'runner-marker')
        r = t.credstore('render', '--runner-dir', d, '--credential', 'e2e machine', '--purpose', 'e2e runner')
        check(r.returncode == 0, outputs(r))
        env_dir = os.path.join(d, 'env')
        for name in ('envvars', 'extravars', 'passwords', 'cmdline', 'ssh_key'):
            path = os.path.join(env_dir, name)
            check(os.path.exists(path), f'{name} missing in {env_dir}')
            check(os.stat(path).st_mode & 0o077 == 0, f'{name} is readable by others')
        extravars = json.load(open(os.path.join(env_dir, 'extravars')))
        extravars.update({'expected_user': getpass.getuser(), 'mark': 'via-runner', 'marker': marker})
        write(os.path.join(env_dir, 'extravars'), json.dumps(extravars), 0o600)
        runner = os.path.join(t.venv_bin, 'ansible-runner')
        r = subprocess.run([runner, 'run', d, '-p', 'ssh.yml'], capture_output=True, text=True,
                           env=t.env(), timeout=300)
        check(r.returncode == 0, outputs(r) + '\nsshd log: ' + open(sshd['log']).read()[-1500:])
        check(open(marker).read() == 'via-runner', 'ansible-runner did not run the playbook over ssh')
        shutil.rmtree(env_dir)

    if sshd.get('proc'):
        sshd['proc'].terminate()
        sshd['proc'].wait(timeout=10)
