import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalHostname, hostOfHeader } from './hostnames.js';

test('canonicalHostname: lower case, punycode, no trailing dot', () => {
  assert.equal(canonicalHostname('Go.Acme.COM'), 'go.acme.com');
  assert.equal(canonicalHostname(' go.acme.com. '), 'go.acme.com');
  assert.equal(canonicalHostname('bücher.example'), 'xn--bcher-kva.example');
  assert.equal(canonicalHostname('a-b.c0.io'), 'a-b.c0.io');
});

test('canonicalHostname: refuses what is not a reachable domain name', () => {
  for (const bad of ['', 'localhost', '127.0.0.1', '[::1]', 'go.acme.com:8080', 'https://go.acme.com', 'go.acme.com/x', 'go..acme.com', '-go.acme.com', 'go-.acme.com', 'go acme.com', 'a@b.com', `${'a'.repeat(64)}.com`, `${'a.'.repeat(127)}com`]) {
    assert.equal(canonicalHostname(bad), undefined, bad);
  }
});

test('hostOfHeader: drops the port and the trailing dot, lower-cases', () => {
  assert.equal(hostOfHeader('Go.Acme.com:443'), 'go.acme.com');
  assert.equal(hostOfHeader('go.acme.com.'), 'go.acme.com');
  assert.equal(hostOfHeader('[::1]:8080'), '[::1]');
  assert.equal(hostOfHeader('[::1]'), '[::1]');
  assert.equal(hostOfHeader(undefined), undefined);
});
