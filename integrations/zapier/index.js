'use strict';

// The User Evaluation app for Zapier: REST-hook triggers on new studies and
// transcripts, actions that create them, authenticated with a workspace API
// key. SPEC §10.
const authentication = require('./authentication');
const { includeApiKey, handleErrors } = require('./lib/middleware');
const studyListTrigger = require('./triggers/study_list');
const studyTrigger = require('./triggers/study');
const transcriptTrigger = require('./triggers/transcript');
const createStudy = require('./creates/study');
const createTranscript = require('./creates/transcript');

module.exports = {
  version: require('./package.json').version,
  platformVersion: require('zapier-platform-core').version,

  authentication,
  beforeRequest: [includeApiKey],
  afterResponse: [handleErrors],

  triggers: {
    [transcriptTrigger.key]: transcriptTrigger,
    [studyTrigger.key]: studyTrigger,
    [studyListTrigger.key]: studyListTrigger,
  },
  searches: {},
  creates: {
    [createStudy.key]: createStudy,
    [createTranscript.key]: createTranscript,
  },
  resources: {},
};
