'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startKeyward } = require('./support/keyward');
const { App, appTester, rejection, payload, keyPaths } = require('./support/app');

const segments = [
  { speaker: 'Moderator', start_ms: '0', end_ms: '1200', text: 'Welcome!' },
  { speaker: 'Ada', start_ms: 1500, end_ms: 4200, text: 'Thanks, glad to be here.' },
];

const sameKeys = (sample, real, what) => {
  const s = keyPaths(sample).sort();
  const r = keyPaths(real).sort();
  const extra = s.filter((k) => !r.includes(k));
  const missing = r.filter((k) => !s.includes(k));
  assert.deepEqual(extra, [], `${what}: sample keys the API does not return`);
  assert.deepEqual(missing, [], `${what}: API fields the sample lacks`);
};

const descending = (items) => {
  for (let i = 1; i < items.length; i++) {
    assert.ok(items[i - 1].created_at >= items[i].created_at, `not newest first at ${i}`);
  }
};

describe('triggers and actions against a real keyward', () => {
  let kw;
  let key;

  before(async () => ({ kw, key } = await startKeyward()));
  after(async () => kw && kw.stop());

  const bundle = (inputData = {}) => ({ authData: { api_key: key.key }, inputData });
  const createStudy = (inputData) => appTester(App.creates.study.operation.perform, bundle(inputData));
  const createTranscript = (inputData) => appTester(App.creates.transcript.operation.perform, bundle(inputData));
  const listStudies = () => appTester(App.triggers.study_list.operation.perform, bundle());

  it('Create Study returns the created study, as GET returns it', async () => {
    const study = await createStudy({ name: 'Onboarding interviews', description: 'Round 1' });
    assert.match(study.id, /^std_/);
    assert.equal(study.name, 'Onboarding interviews');
    assert.equal(study.description, 'Round 1');
    const again = await kw.v1(bundle().authData.api_key, 'GET', `/v1/studies/${study.id}`);
    assert.deepEqual(again.body, study);
    sameKeys(App.creates.study.operation.sample, study, 'Create Study');
  });

  it('Create Study without a description leaves it out', async () => {
    const study = await createStudy({ name: 'No description', description: '' });
    assert.equal(study.description, null);
  });

  it('Create Transcript sends participant, language and line-item segments, and returns the transcript', async () => {
    const study = await createStudy({ name: 'Transcripts here' });
    const t = await createTranscript({
      study_id: study.id,
      participant_name: 'Ada',
      participant_email: 'ada@example.com',
      language: 'de-CH',
      segments,
    });
    assert.match(t.id, /^trn_/);
    assert.equal(t.study_id, study.id);
    assert.deepEqual(t.participant, { name: 'Ada', email: 'ada@example.com' });
    assert.equal(t.language, 'de-CH');
    assert.deepEqual(t.segments, [
      { speaker: 'Moderator', start_ms: 0, end_ms: 1200, text: 'Welcome!' },
      { speaker: 'Ada', start_ms: 1500, end_ms: 4200, text: 'Thanks, glad to be here.' },
    ]);
    const again = await kw.v1(bundle().authData.api_key, 'GET', `/v1/transcripts/${t.id}`);
    assert.deepEqual(again.body, t);
    sameKeys(App.creates.transcript.operation.sample, t, 'Create Transcript');
  });

  it('Create Transcript defaults the language and omits an empty email', async () => {
    const [study] = await listStudies();
    const t = await createTranscript({
      study_id: study.id,
      participant_name: 'Bo',
      participant_email: '',
      language: '',
      segments: segments.slice(0, 1),
    });
    assert.equal(t.language, 'en');
    assert.equal(t.participant.name, 'Bo');
    assert.ok(!t.participant.email, 'no email');
  });

  it('the hidden study list feeds the dropdowns: id and name, newest first', async () => {
    assert.equal(App.triggers.study_list.display.hidden, true);
    assert.equal(App.triggers.transcript.operation.inputFields[0].dynamic, 'study_list.id.name');
    assert.equal(App.creates.transcript.operation.inputFields[0].dynamic, 'study_list.id.name');
    const created = await createStudy({ name: 'Newest study' });
    const studies = await listStudies();
    assert.ok(studies.length >= 4, 'the demo studies and ours');
    assert.equal(studies[0].id, created.id);
    descending(studies);
    sameKeys(App.triggers.study_list.operation.sample, studies[0], 'study_list');
  });

  it('New Study’s performList returns the newest studies first', async () => {
    const a = await createStudy({ name: 'List A' });
    const b = await createStudy({ name: 'List B' });
    const list = await appTester(App.triggers.study.operation.performList, bundle());
    assert.deepEqual(
      list.slice(0, 2).map((s) => s.id),
      [b.id, a.id],
    );
    descending(list);
    sameKeys(App.triggers.study.operation.sample, list[0], 'New Study');
  });

  it('New Transcript’s performList returns the newest transcripts first, of one study when asked', async () => {
    const study = await createStudy({ name: 'Filtered' });
    const input = (name) => ({ study_id: study.id, participant_name: name, segments });
    const first = await createTranscript(input('First'));
    const second = await createTranscript(input('Second'));

    const all = await appTester(App.triggers.transcript.operation.performList, bundle());
    assert.equal(all[0].id, second.id);
    assert.equal(all[1].id, first.id);
    assert.ok(all.length > 2, 'other studies’ transcripts too');
    descending(all);
    sameKeys(App.triggers.transcript.operation.sample, all[0], 'New Transcript');

    const [other] = (await listStudies()).filter((s) => s.id !== study.id);
    await createTranscript({ study_id: other.id, participant_name: 'Elsewhere', segments });
    const one = await appTester(App.triggers.transcript.operation.performList, bundle({ study_id: study.id }));
    assert.deepEqual(
      one.map((t) => t.id),
      [second.id, first.id],
    );
  });

  it('a 422 names each bad field by the action’s input fields', async () => {
    const [study] = await listStudies();
    const err = await rejection(
      App.creates.transcript.operation.perform,
      bundle({
        study_id: study.id,
        participant_name: '',
        participant_email: 'not-an-email',
        segments: [{ speaker: 'A', start_ms: '900', end_ms: '100', text: 'hi' }],
      }),
    );
    const { message, code, status } = payload(err);
    assert.equal(status, 422);
    assert.equal(code, 'validation_failed');
    assert.match(message, /participant_name: must not be empty/);
    assert.match(message, /participant_email: must be an email address/);
    assert.match(message, /segments line 1 end_ms: must not be less than start_ms/);

    const bad = await rejection(App.creates.study.operation.perform, bundle({ name: 'x'.repeat(201) }));
    assert.match(payload(bad).message, /name: must be at most 200 characters/);
  });

  it('an unknown study is a readable 404', async () => {
    const err = await rejection(
      App.creates.transcript.operation.perform,
      bundle({ study_id: 'std_00000000000000000000000000', participant_name: 'X', segments }),
    );
    const { message, status, code } = payload(err);
    assert.equal(status, 404);
    assert.equal(code, 'not_found');
    assert.match(message, /not_found/);
  });

  it('a free plan’s 403 plan_required says so', async () => {
    const ws = await kw.createWorkspace('Downgraded', 'pro');
    const key = await kw.createKey('Before downgrade', ws);
    await kw.admin('workspace', 'set-plan', ws, 'free');
    const err = await rejection(App.triggers.study_list.operation.perform, { authData: { api_key: key.key } });
    const { status, code } = payload(err);
    assert.equal(status, 403);
    assert.equal(code, 'plan_required');
  });
});
