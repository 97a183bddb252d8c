'use strict';

// The app under test, run by zapier-platform-core's app tester.

const zapier = require('zapier-platform-core');
const App = require('../../index');

const appTester = zapier.createAppTester(App);

// Runs `method` and returns the error it throws (fails if it does not).
const rejection = async (method, bundle) => {
  try {
    await appTester(method, bundle);
  } catch (err) {
    return err;
  }
  throw new Error('expected the app to throw');
};

// ThrottledError and z.errors.Error carry a JSON message.
const payload = (err) => {
  try {
    return JSON.parse(err.message);
  } catch (_) {
    return { message: err.message };
  }
};

// Every key path of a JSON value (`participant.name`, `segments[].text`).
const keyPaths = (value, prefix = '') => {
  if (Array.isArray(value)) {
    return [...new Set(value.flatMap((v) => keyPaths(v, `${prefix}[]`)))];
  }
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => {
      const p = prefix ? `${prefix}.${k}` : k;
      return [p, ...keyPaths(v, p)];
    });
  }
  return [];
};

module.exports = { App, appTester, rejection, payload, keyPaths };
