'use strict';

const { url } = require('./lib/api');

// `GET /v1/me` answers for any working key: the workspace it belongs to, the
// key itself and its rate limit.
const test = async (z) => {
  const response = await z.request({ url: url('/v1/me') });
  return response.data;
};

module.exports = {
  type: 'custom',
  fields: [
    {
      key: 'api_key',
      label: 'API Key',
      type: 'password',
      required: true,
      helpText:
        'A workspace API key (`ue_live_…`). A workspace admin generates one under **Settings → Other → API Keys**; it is shown only once.',
    },
  ],
  test,
  // The workspace's name, from the test's answer.
  connectionLabel: (z, bundle) => {
    const ws = bundle.inputData && bundle.inputData.workspace;
    return ws && ws.name ? ws.name : '';
  },
};
