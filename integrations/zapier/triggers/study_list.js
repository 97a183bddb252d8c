'use strict';

const { listPage } = require('../lib/api');
const samples = require('../lib/samples');
const { studyOutputFields } = require('../lib/fields');

// Hidden polling trigger behind the `study_id` dropdowns: the workspace's
// newest 100 studies (the API's largest page).
const perform = async (z) => listPage(z, '/v1/studies', 100);

module.exports = {
  key: 'study_list',
  noun: 'Study',
  display: {
    label: 'List Studies',
    description: 'Lists the workspace’s studies, for dropdowns.',
    hidden: true,
  },
  operation: {
    type: 'polling',
    perform,
    sample: samples.study,
    outputFields: studyOutputFields,
  },
};
