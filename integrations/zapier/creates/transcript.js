'use strict';

const { seg, create } = require('../lib/api');
const samples = require('../lib/samples');
const { transcriptOutputFields } = require('../lib/fields');

const present = (v) => v !== undefined && v !== null && v !== '';

// Zapier hands line-item numbers over as strings; a whole number is sent as a
// number, anything else unchanged, so keyward's 422 names the bad field.
const millis = (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v);

const segmentsOf = (items) => {
  if (!Array.isArray(items)) {
    return items;
  }
  return items.map((s) => ({
    speaker: s.speaker,
    start_ms: millis(s.start_ms),
    end_ms: millis(s.end_ms),
    text: s.text,
  }));
};

const perform = async (z, bundle) => {
  const input = bundle.inputData;
  const participant = { name: input.participant_name };
  if (present(input.participant_email)) {
    participant.email = input.participant_email;
  }
  const body = { participant, segments: segmentsOf(input.segments) };
  if (present(input.language)) {
    body.language = input.language;
  }
  return create(z, `/v1/studies/${seg(input.study_id)}/transcripts`, body);
};

module.exports = {
  key: 'transcript',
  noun: 'Transcript',
  display: {
    label: 'Create Transcript',
    description: 'Adds a transcript to a study.',
  },
  operation: {
    inputFields: [
      { key: 'study_id', label: 'Study', required: true, dynamic: 'study_list.id.name' },
      { key: 'participant_name', label: 'Participant Name', required: true },
      { key: 'participant_email', label: 'Participant Email', required: false },
      {
        key: 'language',
        label: 'Language',
        required: false,
        helpText: 'A BCP 47 tag such as `en`, `de-CH` or `pt-BR`; `en` when empty.',
      },
      {
        key: 'segments',
        label: 'Segments',
        required: true,
        children: [
          {
            key: 'speaker',
            label: 'Speaker',
            required: true,
            helpText: 'One line per utterance: who spoke, from when to when, and what was said.',
          },
          {
            key: 'start_ms',
            label: 'Start (ms)',
            type: 'integer',
            required: true,
            helpText: 'Milliseconds from the start of the recording.',
          },
          { key: 'end_ms', label: 'End (ms)', type: 'integer', required: true },
          { key: 'text', label: 'Text', type: 'text', required: true },
        ],
      },
    ],
    perform,
    sample: samples.transcript,
    outputFields: transcriptOutputFields,
  },
};
