'use strict';

const { listPage, LIST_LIMIT } = require('../lib/api');
const hooks = require('../lib/hooks');
const samples = require('../lib/samples');
const { studyOutputFields } = require('../lib/fields');

const EVENT = 'study.created';

const perform = async (z, bundle) => {
  const study = hooks.eventData(bundle, EVENT);
  return study ? [study] : [];
};

const performList = async (z) => listPage(z, '/v1/studies', LIST_LIMIT);

module.exports = {
  key: 'study',
  noun: 'Study',
  display: {
    label: 'New Study',
    description: 'Triggers when a study is created in the workspace.',
  },
  operation: {
    type: 'hook',
    performSubscribe: hooks.subscribe(EVENT),
    performUnsubscribe: hooks.unsubscribe,
    perform,
    performList,
    sample: samples.study,
    outputFields: studyOutputFields,
  },
};
