'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startKeyward } = require('./support/keyward');
const { App, appTester, rejection, payload } = require('./support/app');

describe('authentication against a real keyward', () => {
  let kw;
  let key;

  before(async () => ({ kw, key } = await startKeyward()));
  after(async () => kw && kw.stop());

  it('the connection test answers with the workspace, and the label is its name', async () => {
    const me = await appTester(App.authentication.test, { authData: { api_key: key.key } });
    assert.equal(me.workspace.id, kw.workspaceId);
    assert.equal(me.workspace.name, 'Demo');
    assert.equal(me.key.id, key.id);
    const label = await appTester(App.authentication.connectionLabel, {
      authData: { api_key: key.key },
      inputData: me,
    });
    assert.equal(label, 'Demo');
  });

  it('a revoked key fails the connection test with an auth error that says it was revoked', async () => {
    const other = await kw.createKey('Soon revoked');
    await appTester(App.authentication.test, { authData: { api_key: other.key } });
    await kw.admin('key', 'revoke', other.id);
    const err = await rejection(App.authentication.test, { authData: { api_key: other.key } });
    assert.equal(err.name, 'ExpiredAuthError');
    assert.match(err.message, /revoked/i);
    assert.match(err.message, /api_key_revoked/);
  });

  it('an unknown key fails with an auth error carrying keyward’s detail', async () => {
    const err = await rejection(App.authentication.test, { authData: { api_key: `ue_live_${'A'.repeat(38)}` } });
    assert.equal(err.name, 'ExpiredAuthError');
    assert.match(err.message, /invalid_api_key/);
    assert.match(err.message, /\(request [^)]+\)/);
  });

  it('a missing key is an auth error too', async () => {
    const err = await rejection(App.authentication.test, { authData: {} });
    assert.equal(err.name, 'ExpiredAuthError');
    assert.match(err.message, /invalid_api_key/);
  });

  it('over the rate limit, the app throws Zapier’s throttled error with Retry-After', async () => {
    const ws = await kw.createWorkspace('Throttled', 'pro');
    const limited = await kw.createKey('Limited', ws);
    await kw.admin('workspace', 'set-rate-limit', ws, '1');
    const bundle = { authData: { api_key: limited.key } };
    await appTester(App.triggers.study_list.operation.perform, bundle);
    const err = await rejection(App.triggers.study_list.operation.perform, bundle);
    assert.equal(err.name, 'ThrottledError');
    const { message, delay } = payload(err);
    assert.ok(Number.isInteger(delay) && delay > 0 && delay <= 60, `delay ${delay}`);
    assert.match(message, /rate_limited/);
    assert.match(message, new RegExp(`retry after ${delay} s`));
  });
});
