'use strict';

// keyward does not answer 5xx on purpose, so these run against a stub that
// does: a 5xx must become an error Zapier retries later.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');

const { App, rejection, payload } = require('./support/app');

describe('server errors', () => {
  let server;
  let next;
  let seen;

  before(async () => {
    server = http.createServer((req, res) => {
      seen = req;
      const { status, headers, body } = next;
      res.writeHead(status, headers);
      res.end(body);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.env.BASE_URL = `http://127.0.0.1:${server.address().port}/`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  const bundle = { authData: { api_key: 'ue_live_stub' }, inputData: { name: 'x' } };

  it('a 503 with Retry-After is a throttled error retried after that many seconds', async () => {
    next = {
      status: 503,
      headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '7', 'X-Request-Id': 'req_stub1' },
      body: JSON.stringify({
        status: 503,
        code: 'store_unavailable',
        detail: 'the store does not answer',
        request_id: 'req_stub1',
      }),
    };
    const err = await rejection(App.creates.study.operation.perform, bundle);
    assert.equal(err.name, 'ThrottledError');
    const { message, delay } = payload(err);
    assert.equal(delay, 7);
    assert.match(message, /503/);
    assert.match(message, /the store does not answer/);
    assert.match(message, /req_stub1/);
    assert.equal(seen.headers.authorization, 'Bearer ue_live_stub');
    assert.equal(seen.url, '/v1/studies');
  });

  it('a 500 without a body is retried after a default delay', async () => {
    next = { status: 500, headers: { 'Content-Type': 'text/plain' }, body: 'oops' };
    const err = await rejection(App.triggers.study_list.operation.perform, bundle);
    assert.equal(err.name, 'ThrottledError');
    const { message, delay } = payload(err);
    assert.equal(delay, 60);
    assert.match(message, /keyward answered 500/);
  });
});
