/** How the admin pages show a country code: its flag (regional indicator letters) and English name. */
const names = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'code' });

export function countryLabel(code: string): string {
  const flag = String.fromCodePoint(...[...code.toUpperCase()].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
  let name = code;
  try {
    name = names.of(code) ?? code;
  } catch {
    // Not a region code Intl knows (a withdrawn one such as AN): the code itself.
  }
  return `${flag} ${name}`;
}

/** Facet rows of countries with the label the page shows. */
export const withCountryLabels = <T extends { value: string | null }>(rows: readonly T[]) =>
  rows.map((r) => ({ ...r, label: r.value === null ? undefined : countryLabel(r.value) }));
