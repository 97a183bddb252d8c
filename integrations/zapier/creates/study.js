'use strict';

const { create } = require('../lib/api');
const samples = require('../lib/samples');
const { studyOutputFields } = require('../lib/fields');

const present = (v) => v !== undefined && v !== null && v !== '';

const perform = async (z, bundle) => {
  const { name, description } = bundle.inputData;
  const body = { name };
  if (present(description)) {
    body.description = description;
  }
  return create(z, '/v1/studies', body);
};

module.exports = {
  key: 'study',
  noun: 'Study',
  display: {
    label: 'Create Study',
    description: 'Creates a study in the workspace.',
  },
  operation: {
    inputFields: [
      { key: 'name', label: 'Name', required: true, helpText: '1 to 200 characters.' },
      { key: 'description', label: 'Description', type: 'text', required: false, helpText: 'Up to 5000 characters.' },
    ],
    perform,
    sample: samples.study,
    outputFields: studyOutputFields,
  },
};
