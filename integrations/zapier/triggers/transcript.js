'use strict';

const { seg, listPage, LIST_LIMIT } = require('../lib/api');
const hooks = require('../lib/hooks');
const samples = require('../lib/samples');
const { transcriptOutputFields } = require('../lib/fields');

const EVENT = 'transcript.created';

const studyFilter = (bundle) => {
  const id = bundle.inputData && bundle.inputData.study_id;
  return id ? String(id) : null;
};

// One hook per Zap receives every new transcript of the workspace; a Zap that
// asked for one study keeps only that study's.
const perform = async (z, bundle) => {
  const transcript = hooks.eventData(bundle, EVENT);
  if (!transcript) {
    return [];
  }
  const study = studyFilter(bundle);
  if (study && transcript.study_id !== study) {
    return [];
  }
  return [transcript];
};

const performList = async (z, bundle) => {
  const study = studyFilter(bundle);
  const path = study ? `/v1/studies/${seg(study)}/transcripts` : '/v1/transcripts';
  return listPage(z, path, LIST_LIMIT);
};

module.exports = {
  key: 'transcript',
  noun: 'Transcript',
  display: {
    label: 'New Transcript',
    description: 'Triggers when a transcript is added to a study (any study, or the one you choose).',
  },
  operation: {
    type: 'hook',
    inputFields: [
      {
        key: 'study_id',
        label: 'Study',
        dynamic: 'study_list.id.name',
        required: false,
        helpText: 'Only transcripts of this study. Leave empty for every study of the workspace.',
      },
    ],
    performSubscribe: hooks.subscribe(EVENT),
    performUnsubscribe: hooks.unsubscribe,
    perform,
    performList,
    sample: samples.transcript,
    outputFields: transcriptOutputFields,
  },
};
