import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withForwardedQuery } from './forward-query.js';
import { MAX_LOCATION_LENGTH } from './location.js';

describe('withForwardedQuery', () => {
  test('adds the visitor parameters after the destination own', () => {
    assert.equal(withForwardedQuery('https://example.com/landing', '/spring?utm_source=mail'), 'https://example.com/landing?utm_source=mail');
    assert.equal(
      withForwardedQuery('https://example.com/landing?ref=box', '/spring?utm_source=mail&utm_medium=email'),
      'https://example.com/landing?ref=box&utm_source=mail&utm_medium=email',
    );
  });

  test('a parameter the destination has keeps the destination value, and repeated ones the visitor sent stay repeated', () => {
    assert.equal(
      withForwardedQuery('https://example.com/?utm_source=box', '/spring?utm_source=mail&tag=a&tag=b'),
      'https://example.com/?utm_source=box&tag=a&tag=b',
    );
  });

  test('qr=1 is not forwarded, but another qr value is the visitor own', () => {
    assert.equal(withForwardedQuery('https://example.com/', '/spring?qr=1'), 'https://example.com/');
    assert.equal(withForwardedQuery('https://example.com/', '/spring?qr=1&utm_source=print'), 'https://example.com/?utm_source=print');
    assert.equal(withForwardedQuery('https://example.com/', '/spring?qr=yes'), 'https://example.com/?qr=yes');
  });

  test('the destination query and fragment are kept as they were, the added parameters before the fragment', () => {
    assert.equal(
      withForwardedQuery('https://example.com/a?q=caf%C3%A9%20bar&x=1#section-2', '/s?utm_source=a%20b'),
      'https://example.com/a?q=caf%C3%A9%20bar&x=1&utm_source=a%20b#section-2',
    );
    assert.equal(withForwardedQuery('https://example.com/a?', '/s?k=v'), 'https://example.com/a?k=v');
    assert.equal(withForwardedQuery('https://example.com/a#top', '/s?k=v'), 'https://example.com/a?k=v#top');
  });

  test('no query, an empty one, or nothing new: the destination as it is', () => {
    assert.equal(withForwardedQuery('https://example.com/a?x=1', '/s'), 'https://example.com/a?x=1');
    assert.equal(withForwardedQuery('https://example.com/a?x=1', '/s?'), 'https://example.com/a?x=1');
    assert.equal(withForwardedQuery('https://example.com/a?x=1', '/s?x=2'), 'https://example.com/a?x=1');
  });

  test('a visitor query that would make the Location too long is dropped, not the redirect', () => {
    const long = `/s?junk=${'a'.repeat(MAX_LOCATION_LENGTH)}`;
    assert.equal(withForwardedQuery('https://example.com/a', long), 'https://example.com/a');
  });

  test('the visitor parameters pass as sent: encoding, +, bare names, empty values', () => {
    assert.equal(
      withForwardedQuery('https://example.com/', '/s?a=x%20y&b=x+y&flag&c=&tilde=~&q=%E2%9C%93'),
      'https://example.com/?a=x%20y&b=x+y&flag&c=&tilde=~&q=%E2%9C%93',
    );
  });

  test('what a query may not hold is percent-encoded, so the Location stays valid and its fragment the link own', () => {
    const out = withForwardedQuery('https://example.com/p#frag', '/s?name="<x>"&h=a#b&pct=100%&ok=%41');
    assert.equal(out, 'https://example.com/p?name=%22%3Cx%3E%22&h=a%23b&pct=100%25&ok=%41#frag');
    assert.equal(new URL(out).hash, '#frag');
    assert.equal(new URL(out).pathname, '/p');
  });

  test('qr=1 is dropped wherever it is, and a name the destination has is compared decoded', () => {
    assert.equal(withForwardedQuery('https://example.com/', '/s?x=1&qr=1&y=2'), 'https://example.com/?x=1&y=2');
    assert.equal(withForwardedQuery('https://example.com/?utm_source=box', '/s?utm%5Fsource=mail&z=1'), 'https://example.com/?utm_source=box&z=1');
  });
});
