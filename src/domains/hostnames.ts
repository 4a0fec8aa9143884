import { domainToASCII } from 'node:url';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * A domain name as LinkQR stores and compares it: lower case, an internationalised name in
 * punycode (bücher.example → xn--bcher-kva.example), no trailing dot. Undefined when the text
 * is not a name a visitor can reach links on: an IP address, one label alone, a port, a path.
 */
export function canonicalHostname(input: string): string | undefined {
  let name = input.trim();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === '' || /[\s/:@?#[\]\\]/.test(name)) return undefined;
  const ascii = domainToASCII(name);
  if (ascii === '' || ascii.length > 253) return undefined;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return undefined;
  // A numeric last label is an IPv4 address (or a typo of one), never a domain.
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return undefined;
  return ascii;
}

/**
 * The host a request's `Host` header names, as the domain table stores hosts (lower case, no
 * port, no trailing dot): undefined without one. Cheap, since every redirect asks.
 */
export function hostOfHeader(header: string | undefined): string | undefined {
  if (!header) return undefined;
  let host = header;
  // A port, after the host or after an IPv6 literal's closing bracket.
  const colon = host.lastIndexOf(':');
  if (colon !== -1 && colon > host.lastIndexOf(']')) host = host.slice(0, colon);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host.toLowerCase();
}
