'use strict';

// Labels for the fields of the objects the triggers and actions return.

const studyOutputFields = [
  { key: 'id', label: 'Study ID', type: 'string' },
  { key: 'name', label: 'Name', type: 'string' },
  { key: 'description', label: 'Description', type: 'string' },
  { key: 'created_at', label: 'Created At', type: 'datetime' },
];

const transcriptOutputFields = [
  { key: 'id', label: 'Transcript ID', type: 'string' },
  { key: 'study_id', label: 'Study ID', type: 'string' },
  { key: 'participant__name', label: 'Participant Name', type: 'string' },
  { key: 'participant__email', label: 'Participant Email', type: 'string' },
  { key: 'language', label: 'Language', type: 'string' },
  { key: 'segments[]speaker', label: 'Segment Speaker', type: 'string' },
  { key: 'segments[]start_ms', label: 'Segment Start (ms)', type: 'integer' },
  { key: 'segments[]end_ms', label: 'Segment End (ms)', type: 'integer' },
  { key: 'segments[]text', label: 'Segment Text', type: 'string' },
  { key: 'created_at', label: 'Created At', type: 'datetime' },
];

module.exports = { studyOutputFields, transcriptOutputFields };
