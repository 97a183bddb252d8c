'use strict';

// Where the keyward API lives. Zapier sets `process.env` from the app's
// environment (`zapier-platform env:set 1.0.0 BASE_URL=…`), so a self-hosted
// keyward is one variable away; it is read on every request.
const DEFAULT_BASE_URL = 'https://api.userevaluation.com';

const baseUrl = () => (process.env.BASE_URL || DEFAULT_BASE_URL).replace(/\/+$/, '');

const url = (path) => `${baseUrl()}${path}`;

// An id inside a path: ids are `std_…`/`trn_…`/`hook_…`; anything else is
// escaped rather than trusted.
const seg = (id) => encodeURIComponent(String(id));

// How many of the newest items a REST-hook trigger's `performList` returns
// (what Zapier shows while the Zap is set up). The API's maximum page is 100.
const LIST_LIMIT = 10;

// The items of the first page of a list endpoint (newest first), at most `limit`.
const listPage = async (z, path, limit) => {
  const response = await z.request({ url: url(path), params: { limit } });
  return response.data.data;
};

// POSTs `body` to `path` and returns what keyward created, as `GET` returns it.
const create = async (z, path, body) => {
  const response = await z.request({ url: url(path), method: 'POST', body });
  return response.data;
};

module.exports = { DEFAULT_BASE_URL, baseUrl, url, seg, LIST_LIMIT, listPage, create };
