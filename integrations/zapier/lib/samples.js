'use strict';

// Samples with the fields keyward really returns (a test compares their keys
// with real responses). Zapier shows them while a Zap is set up.

const study = {
  id: 'std_01JD8X4V6Q2W3E4R5T6Y7Z8A9B',
  name: 'Checkout usability, round 2',
  description: 'Moderated sessions on the new checkout flow.',
  created_at: '2025-01-01T12:00:00.000Z',
};

const transcript = {
  id: 'trn_01JD8X9K2M3N4P5Q6R7S8T9V0W',
  study_id: study.id,
  participant: { name: 'Zoë Müller', email: 'zoe.mueller@example.com' },
  language: 'en',
  segments: [
    { speaker: 'Moderator', start_ms: 0, end_ms: 5800, text: 'Thanks for joining, Zoë.' },
    { speaker: 'Zoë Müller', start_ms: 7000, end_ms: 14800, text: "Sure. I'm adding them to the cart now." },
  ],
  created_at: '2025-01-01T12:30:00.000Z',
};

module.exports = { study, transcript };
