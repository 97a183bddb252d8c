'use strict';

// The REST-hook triggers end to end: Zapier subscribes, keyward delivers a
// signed event to the hook URL (a local receiver here), `perform` turns the
// delivery into the trigger's item, and unsubscribing leaves no hook.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startKeyward, eventually } = require('./support/keyward');
const { startReceiver, signatureValid } = require('./support/receiver');
const { App, appTester } = require('./support/app');

const segments = [{ speaker: 'Moderator', start_ms: 0, end_ms: 900, text: 'Hello' }];

describe('REST hooks against a real keyward', () => {
  let kw;
  let receiver;
  let key;
  let bundle;

  before(async () => {
    ({ kw, key } = await startKeyward());
    receiver = await startReceiver();
    bundle = (extra = {}) => ({ authData: { api_key: key.key }, inputData: {}, ...extra });
  });
  after(async () => {
    if (receiver) await receiver.close();
    if (kw) await kw.stop();
  });

  // Fails (never skips) on a keyward built without webhooks.
  const requireHooks = () =>
    assert.ok(
      kw.webhookFlags,
      `${kw.bin} has no --webhooks-allow-http/--webhooks-allow-private: these tests need a keyward with /v1/hooks (SPEC §9)`,
    );

  const hooks = async () => {
    const res = await kw.v1(key.key, 'GET', '/v1/hooks');
    assert.equal(res.status, 200);
    return res.body.data;
  };

  // The delivery whose `data.id` is `id`, once the receiver has it.
  const deliveryOf = (path, id) =>
    eventually(`the delivery of ${id} to ${path}`, () =>
      receiver.requests.find((r) => r.url === path && JSON.parse(r.body).data.id === id),
    );

  // What `trigger`'s perform makes of a delivered `event`, for a Zap subscribed as `sub`.
  const performOn = (trigger, event, sub, inputData = {}) =>
    appTester(
      App.triggers[trigger].operation.perform,
      bundle({ inputData, cleanedRequest: event, subscribeData: sub }),
    );

  it('New Transcript: subscribe, a signed delivery, perform returns the transcript, unsubscribe', async () => {
    requireHooks();
    const targetUrl = receiver.url('/hooks/transcript');
    const sub = await appTester(App.triggers.transcript.operation.performSubscribe, bundle({ targetUrl }));
    assert.match(sub.id, /^hook_/);
    assert.equal(sub.event, 'transcript.created');
    assert.equal(sub.target_url, targetUrl);
    assert.match(sub.secret, /^whsec_/);
    assert.ok(
      (await hooks()).some((h) => h.id === sub.id),
      'listed under /v1/hooks',
    );

    const [study] = await appTester(App.triggers.study_list.operation.perform, bundle());
    const created = await appTester(
      App.creates.transcript.operation.perform,
      bundle({ inputData: { study_id: study.id, participant_name: 'Hook', segments } }),
    );

    const delivery = await deliveryOf('/hooks/transcript', created.id);
    assert.equal(delivery.method, 'POST');
    assert.match(delivery.headers['content-type'], /^application\/json/);
    assert.ok(signatureValid(sub.secret, delivery), 'Standard Webhooks signature verifies with the hook secret');
    assert.ok(!signatureValid(`whsec_${Buffer.from('another secret!!').toString('base64')}`, delivery));
    const event = JSON.parse(delivery.body);
    assert.match(event.id, /^evt_/);
    assert.equal(delivery.headers['webhook-id'], event.id);
    assert.equal(event.type, 'transcript.created');
    assert.deepEqual(event.data, created);

    const items = await performOn('transcript', event, sub);
    assert.deepEqual(items, [created]);

    const sameStudy = await performOn('transcript', event, sub, { study_id: study.id });
    assert.deepEqual(sameStudy, [created]);
    const otherStudy = await performOn('transcript', event, sub, { study_id: 'std_00000000000000000000000000' });
    assert.deepEqual(otherStudy, [], 'a Zap filtered to another study ignores it');

    await appTester(App.triggers.transcript.operation.performUnsubscribe, bundle({ subscribeData: sub }));
    assert.ok(!(await hooks()).some((h) => h.id === sub.id), 'no hook left');
  });

  it('New Study: subscribe, a signed delivery, perform returns the study, unsubscribe', async () => {
    requireHooks();
    const targetUrl = receiver.url('/hooks/study');
    const sub = await appTester(App.triggers.study.operation.performSubscribe, bundle({ targetUrl }));
    assert.equal(sub.event, 'study.created');

    const created = await appTester(
      App.creates.study.operation.perform,
      bundle({ inputData: { name: 'Hooked study' } }),
    );
    const delivery = await deliveryOf('/hooks/study', created.id);
    assert.ok(signatureValid(sub.secret, delivery));
    const event = JSON.parse(delivery.body);
    assert.equal(event.type, 'study.created');

    const items = await performOn('study', event, sub);
    assert.deepEqual(items, [created]);
    const wrongType = await performOn('transcript', event, sub);
    assert.deepEqual(wrongType, [], 'a study event is not a transcript');

    await appTester(App.triggers.study.operation.performUnsubscribe, bundle({ subscribeData: sub }));
    assert.deepEqual(await hooks(), [], 'no hook left in the workspace');
    // Turning off a Zap whose hook is gone already succeeds.
    await appTester(App.triggers.study.operation.performUnsubscribe, bundle({ subscribeData: sub }));
  });
});
