"""The web interface in a real browser: Debian's Chromium, headless, driven by Selenium
through Debian's chromedriver (no browser or driver is downloaded). Each step does what a
person would: sign in, fill the generated forms (a key read from a file), filter a list,
edit, replace a secret, grant a role and look as that user, make a custom type in the
editor. Screenshots of the main pages go to target/ui-screenshots/.

Every page the browser shows is kept, and at the end none of them may contain a secret
the steps typed or uploaded."""

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from support import check, short

SHOTS = os.path.join('target', 'ui-screenshots')


class Browser:
    def __init__(self, host):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = '/usr/bin/chromium'
        for flag in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                     '--disable-quic', '--no-first-run', '--disable-background-networking',
                     '--disable-component-update', '--disable-sync', '--window-size=1280,1000',
                     '--user-data-dir=' + tempfile.mkdtemp(prefix='credstore-chromium-')):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
        self.driver.set_page_load_timeout(30)
        self.host = host
        self.pages = []  # every page source seen, for the secret check

    def open(self, path):
        self.driver.get(self.host + path)
        return self.seen()

    def seen(self):
        source = self.driver.page_source
        self.pages.append((self.driver.current_url, source))
        return source

    def by_id(self, element_id):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.ID, element_id)

    def css(self, selector):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def fill(self, element_id, text):
        field = self.by_id(element_id)
        field.clear()
        field.send_keys(text)

    def select(self, element_id, visible_text):
        from selenium.webdriver.support.ui import Select
        Select(self.by_id(element_id)).select_by_visible_text(visible_text)

    def submit(self, selector='main form button[type=submit]'):
        buttons = self.css(selector)
        check(buttons, f'no button {selector} on {self.driver.current_url}')
        return self.click(buttons[-1])

    def click(self, element):
        """Clicks a link or button and waits for the page it leads to: the old page's
        window carries a mark that a newly loaded page does not."""
        from selenium.webdriver.support.ui import WebDriverWait
        self.driver.execute_script('window.credstoreOldPage = true;')
        element.click()

        def loaded(driver):
            try:
                return driver.execute_script(
                    'return !window.credstoreOldPage && document.readyState === "complete";')
            except Exception:  # the page is between documents
                return False

        WebDriverWait(self.driver, 15).until(loaded)
        return self.seen()

    def text(self):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.TAG_NAME, 'main').text

    def shot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        self.driver.save_screenshot(os.path.join(SHOTS, name + '.png'))

    def sign_in(self, username, password):
        self.driver.delete_all_cookies()
        self.open('/')
        check('/login/' in self.driver.current_url, f'not sent to sign in: {self.driver.current_url}')
        self.fill('username', username)
        self.fill('password', password)
        self.submit()
        check(self.signed_in() == username, f'not signed in as {username} but {self.signed_in()!r} at {self.driver.current_url}: {short(self.text(), 200)}')

    def signed_in(self):
        """The user the page header names."""
        who = self.css('header .who strong')
        return who[0].text if who else None

    def wait_for(self, condition, what, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        check(False, f'timed out waiting for {what}')


def web_ui(s):
    state = {}

    def browser():
        if 'browser' not in state:
            state['browser'] = Browser(s.host)
        return state['browser']

    secrets = []  # everything typed into a secret field
    suffix = str(int(time.time()))
    cred_name = f'web-machine-{suffix}'

    @s.step('web: signs in through the form and lands on the credentials list')
    def _():
        b = browser()
        b.driver.delete_all_cookies()
        b.open('/credentials/')
        check('/login/' in b.driver.current_url, f'a signed-out page did not ask to sign in: {b.driver.current_url}')
        b.shot('login')
        b.fill('username', s.username)
        b.fill('password', 'wrong-password')
        b.submit()
        check('Invalid username or password' in b.text(), f'bad password not reported: {short(b.text())}')
        b.fill('username', s.username)
        b.fill('password', s.password)
        b.submit()
        check(b.driver.current_url.endswith('/credentials/'), f'landed on {b.driver.current_url}')
        check(b.signed_in() == s.username, f'header names {b.signed_in()!r}')
        req = urllib.request.Request(s.host + '/login/')
        with urllib.request.urlopen(req, timeout=10) as resp:
            csp = resp.headers.get('Content-Security-Policy', '')
            check("frame-ancestors 'none'" in csp and "script-src 'self'" in csp, f'CSP: {csp}')
            check(resp.headers.get('X-Content-Type-Options') == 'nosniff', 'no nosniff header')

    @s.step('web: creates a Machine credential through the generated form, the key from a file')
    def _():
        b = browser()
        status, org = s.http('POST', '/api/v2/organizations/', {'name': f'web-org-{suffix}'})
        check(status == 201, f'organization: {status} {short(org)}')
        state['org'] = org
        status, types = s.http('GET', '/api/v2/credential_types/?namespace=ssh')
        machine = types['results'][0]['id']
        keydir = tempfile.mkdtemp()
        key = os.path.join(keydir, 'id_ed25519')
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key], check=True)
        with open(key) as f:
            key_text = f.read()
        secrets.append(key_text.splitlines()[1])
        b.open(f'/credentials/new/?credential_type={machine}')
        b.fill('name', cred_name)
        b.fill('description', 'made in the browser')
        b.select('organization', org['name'])
        b.fill('input.username', 'deploy')
        password = f'web-pass-{suffix}'
        secrets.append(password)
        b.fill('input.password', password)
        b.by_id('input.ssh_key_data-file').send_keys(key)
        b.wait_for(lambda: 'OPENSSH PRIVATE KEY' in (b.by_id('input.ssh_key_data').get_attribute('value') or ''),
                   'the key file to be read into the form')
        b.shot('credential-form')
        b.submit()
        check('/credentials/' in b.driver.current_url and b.driver.current_url.rstrip('/').split('/')[-1].isdigit(),
              f'not on the new credential: {b.driver.current_url}\n{short(b.text())}')
        state['cred'] = int(b.driver.current_url.rstrip('/').split('/')[-1])
        fields = b.by_id('fields').text
        check('deploy' in fields, f'username not shown: {fields}')
        check(b.by_id('field-ssh_key_data').text.startswith('Set'), f'key not shown as set: {fields}')
        check(b.by_id('field-password').text.startswith('Set'), f'password not shown as set: {fields}')
        b.shot('credential')
        status, cred = s.http('GET', f'/api/v2/credentials/{state["cred"]}/')
        check(cred['inputs'].get('ssh_key_data') == '$encrypted$' and cred['inputs'].get('username') == 'deploy',
              f'API: {short(cred)}')

    @s.step('web: finds it in a list filtered by search and kind')
    def _():
        b = browser()
        b.open('/credentials/')
        b.fill('search', cred_name)
        b.select('kind', 'Machine')
        b.submit('form.filters button[type=submit]')
        rows = b.css('table.list tbody tr')
        check(len(rows) == 1 and cred_name in rows[0].text, f'filtered list: {[r.text for r in rows]}')
        b.shot('credentials')
        b.select('kind', 'Vault')
        b.submit('form.filters button[type=submit]')
        check('No credentials match' in b.text(), f'kind filter: {short(b.text())}')

    @s.step('web: edits the description')
    def _():
        b = browser()
        cred = state['cred']
        b.open(f'/credentials/{cred}/edit/')
        b.fill('description', 'edited in the browser')
        b.submit()
        check('edited in the browser' in b.text(), f'detail after edit: {short(b.text())}')
        status, body = s.http('GET', f'/api/v2/credentials/{cred}/')
        check(body['description'] == 'edited in the browser', f'API: {body["description"]}')
        check(body['inputs'].get('password') == '$encrypted$', 'the password was lost by an edit that left it empty')

    @s.step('web: replaces the password; the stored secret changes and no page ever showed it')
    def _():
        b = browser()
        cred = state['cred']
        b.open(f'/credentials/{cred}/')
        replace = [a for a in b.css('#field-password a') if a.text == 'Replace']
        check(replace, 'no Replace action beside the password')
        b.click(replace[0])
        new_password = f'web-new-pass-{suffix}'
        secrets.append(new_password)
        b.fill('input.password', new_password)
        b.submit()
        status, rendered = s.http('POST', f'/api/v2/credentials/{cred}/render/', {'purpose': 'web ui test'})
        check(status == 200, f'render: {status} {short(rendered)}')
        answers = json.dumps(rendered.get('passwords', {}))
        check(new_password in answers, f'the new password is not what a job gets: {short(rendered)}')

    @s.step('web: grants use to a user, who then sees a read-only page')
    def _():
        b = browser()
        cred, org = state['cred'], state['org']
        viewer, viewer_password = f'web-viewer-{suffix}', f'pw-viewer-{suffix}'
        status, user = s.http('POST', '/api/v2/users/', {'username': viewer, 'password': viewer_password})
        check(status == 201, f'user: {status} {short(user)}')
        status, _ = s.http('POST', f'/api/v2/organizations/{org["id"]}/users/', {'id': user['id']})
        check(status == 204, f'membership: {status}')
        b.open(f'/credentials/{cred}/')
        b.select('grant-role', 'Use')
        b.fill('grant-username', viewer)
        b.submit('form.grant button[type=submit]')
        check(viewer in b.by_id('access').find_element('xpath', 'following-sibling::table').text,
              f'{viewer} not in the access list')
        b.sign_in(viewer, viewer_password)
        b.open(f'/credentials/{cred}/')
        text = b.text()
        check('You can use this credential but not change it' in text, f'read-only notice: {short(text)}')
        check(not [a for a in b.css('a.button') if a.text in ('Edit', 'Delete')], 'edit or delete offered to a user')
        b.shot('credential-read-only')
        b.open(f'/credentials/{cred}/edit/')
        check('Not allowed' in b.text(), f'edit page for a user: {short(b.text())}')
        b.sign_in(s.username, s.password)

    @s.step('web: a custom type made in the editor, with errors beside their fields, and a credential of it')
    def _():
        b = browser()
        b.open('/credential_types/new/')
        b.fill('name', f'web-type-{suffix}')
        b.fill('inputs', json.dumps({'fields': [{'id': 'token', 'type': 'string', 'secret': True}]}))
        b.fill('injectors', '{not json')
        b.submit()
        check(b.css('#injectors-error'), f'no error beside the injectors: {short(b.text())}')
        b.fill('injectors', json.dumps({'env': {'WEB_TOKEN': '{{ token }}'}}))
        b.submit()
        errors = b.css('#inputs-error')
        check(errors and 'label' in errors[0].text, f'no error beside the inputs for a missing label: {short(b.text())}')
        b.shot('credential-type-error')
        b.fill('inputs', json.dumps({'fields': [{'id': 'token', 'label': 'Token', 'type': 'string', 'secret': True}],
                                     'required': ['token']}))
        # The editor reads YAML as well as JSON, as AWX's does.
        b.fill('injectors', "env:\n  WEB_TOKEN: '{{ token }}'\n")
        b.submit()
        check('/credential_types/' in b.driver.current_url and 'WEB_TOKEN' in b.text(), f'type page: {short(b.text())}')
        b.shot('credential-type')
        [new] = [a for a in b.css('a.button') if a.text == 'New credential of this type']
        b.click(new)
        b.fill('name', '')
        b.submit()
        check(b.css('#name-error'), f'no error beside an empty name: {short(b.text())}')
        b.fill('name', f'web-custom-{suffix}')
        token = f'web-token-{suffix}'
        secrets.append(token)
        b.fill('input.token', token)
        b.submit()
        check(b.by_id('field-token').text.startswith('Set'), f'custom credential: {short(b.text())}')
        b.open('/credential_types/')
        b.shot('credential-types')
        b.open('/activity/')
        check(cred_name in b.driver.page_source or 'credential' in b.text(), 'activity page is empty')
        b.shot('activity')

    @s.step('web: an organization admin adds a member and a team on the organization page')
    def _():
        b = browser()
        org = state['org']
        boss, boss_password = f'web-boss-{suffix}', f'pw-boss-{suffix}'
        status, user = s.http('POST', '/api/v2/users/', {'username': boss, 'password': boss_password})
        check(status == 201, f'user: {status} {short(user)}')
        status, _ = s.http('POST', f'/api/v2/organizations/{org["id"]}/admins/', {'id': user['id']})
        check(status == 204, f'admin: {status}')
        newcomer = f'web-newcomer-{suffix}'
        status, _ = s.http('POST', '/api/v2/users/', {'username': newcomer, 'password': f'pw-{suffix}-x'})
        check(status == 201, f'newcomer: {status}')
        b.sign_in(boss, boss_password)
        b.open(f'/organizations/{org["id"]}/')
        b.fill('add-members', newcomer)
        b.submit('form.grant:has(#add-members) button[type=submit]')
        b.fill('team-name', f'web-team-{suffix}')
        b.submit('form.grant:has(#team-name) button[type=submit]')
        check('/teams/' in b.driver.current_url, f'not on the new team: {b.driver.current_url}')
        b.open(f'/organizations/{org["id"]}/')
        text = b.text()
        check(newcomer in text and f'web-team-{suffix}' in text, f'organization page: {short(text)}')
        status, members = s.http('GET', f'/api/v2/organizations/{org["id"]}/users/?username={newcomer}')
        check(members.get('count') == 1, f'API members: {short(members)}')
        b.shot('organization')
        b.sign_in(s.username, s.password)

    @s.step('web: a change posted without the CSRF token is refused')
    def _():
        b = browser()
        cred = state['cred']
        session = b.driver.get_cookie('awx_sessionid')
        check(session, 'no session cookie in the browser')
        req = urllib.request.Request(
            s.host + f'/credentials/{cred}/delete/', data=b'', method='POST',
            headers={'Cookie': f'awx_sessionid={session["value"]}',
                     'Content-Type': 'application/x-www-form-urlencoded'})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status = resp.status
        except urllib.error.HTTPError as e:
            status = e.code
        check(status == 403, f'delete without a token: {status}')
        status, _ = s.http('GET', f'/api/v2/credentials/{cred}/')
        check(status == 200, 'the credential was deleted anyway')

    @s.step('web: deletes a credential after confirming, and no page ever held a secret')
    def _():
        b = browser()
        cred = state['cred']
        b.open(f'/credentials/{cred}/')
        [delete] = [a for a in b.css('a.button') if a.text == 'Delete']
        b.click(delete)
        check(b.driver.current_url.endswith('/delete/') and 'Delete ' in b.text(),
              f'no confirmation: {short(b.text())}')
        b.submit()
        status, _ = s.http('GET', f'/api/v2/credentials/{cred}/')
        check(status == 404, f'credential still there: {status}')
        leaks = [(url, secret[:12]) for url, page in b.pages for secret in secrets if secret in page]
        check(not leaks, f'secrets in pages: {leaks}')
        return f'{len(b.pages)} pages checked for {len(secrets)} secrets'

    if 'browser' in state:
        state['browser'].driver.quit()
