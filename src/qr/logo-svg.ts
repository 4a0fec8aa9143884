/**
 * Whether an uploaded SVG may be a logo, and its shape. The logo is embedded in our SVG output as
 * `<image xlink:href="data:image/svg+xml;base64,…">`, and browsers draw an SVG referenced by an
 * image element in secure animated mode (SVG 2, "Processing modes for SVG sub-resource documents":
 * secure animated mode where the embedding document supports declarative animation, secure static
 * mode otherwise; W3C wiki "SVG Security": an SVG fetched as an image runs no script, fetches no
 * resource, has no event listeners and no hit testing): even opened directly, our SVG cannot run a
 * logo's script or make it load anything. (Checked in Chromium 156 with a logo these checks would
 * refuse, opened as a page: its script, onload, @import, external image, CSS url() and
 * foreignObject iframe made no request and changed nothing, and clicking its link did nothing.)
 * The same SVG is drawn to PNG by resvg, which loads nothing by itself either.
 *
 * These checks are defence in depth on top of that, and keep the logo to what both browsers and
 * resvg draw alike. They are deliberately simple and strict, refusing some legitimate SVGs with a
 * message saying what to change: the file must be a small XML subset (UTF-8, no DTD but the
 * standard SVG one, no processing instructions, every namespace prefix declared) with an `<svg>`
 * root in the SVG namespace and a viewBox. Refused inside it: scripts, event handler attributes,
 * foreignObject and the XHTML namespace, references outside the file (href other than `#id`,
 * `url()` other than `url(#id)`, CSS @import and image functions), CSS escapes (which could spell
 * any of those), text (resvg has no fonts, so the PNG would lose it), embedded raster images (upload
 * the PNG itself), animation (the PNG is a still), markers, and references that multiply into more
 * than MAX_EXPANDED_ELEMENTS drawn elements (`<use>` of `<use>`, masks of masks: a small file that
 * would take a browser or resvg minutes to draw).
 */

export const MAX_NESTING = 64;
export const MAX_EXPANDED_ELEMENTS = 20_000;

/** An SVG logo as checked: its text as embedded, and its width / height ratio. */
export interface CheckedSvg {
  text: string;
  aspect: number;
}

/** A reason the SVG is refused, worded for the field message ("must …"). */
export class SvgRefusal extends Error {}

const SVG_NS = 'http://www.w3.org/2000/svg';
const XHTML_NS = 'http://www.w3.org/1999/xhtml';

/**
 * The DOCTYPEs Illustrator and older editors write. They declare nothing (no internal subset) and
 * browsers do not fetch the DTD, so they are removed rather than refused; any other is refused.
 */
const STANDARD_DOCTYPE =
  /<!DOCTYPE\s+svg\s+PUBLIC\s+"-\/\/W3C\/\/DTD SVG 1\.[01]\/\/EN"\s+"http:\/\/www\.w3\.org\/(?:Graphics\/SVG\/1\.1\/DTD\/svg11\.dtd|TR\/2001\/REC-SVG-20010904\/DTD\/svg10\.dtd)"\s*>/y;

/** Elements refused wherever they are, by local name, lower-cased, with the reason. */
const REFUSED_ELEMENTS = new Map(Object.entries({
  script: 'must not contain <script>: logos cannot run scripts',
  foreignobject: 'must not contain <foreignObject>: only SVG shapes are accepted',
  text: 'must not contain text (<text>): convert it to outlines (paths), the PNG rendering has no fonts',
  tspan: 'must not contain text (<tspan>): convert it to outlines (paths), the PNG rendering has no fonts',
  textpath: 'must not contain text (<textPath>): convert it to outlines (paths), the PNG rendering has no fonts',
  image: 'must not embed images (<image>): upload the PNG itself, or an SVG made of shapes only',
  feimage: 'must not embed images (<feImage>): upload the PNG itself, or an SVG made of shapes only',
  animate: 'must not be animated (<animate>): the PNG rendering is a still image',
  animatemotion: 'must not be animated (<animateMotion>): the PNG rendering is a still image',
  animatetransform: 'must not be animated (<animateTransform>): the PNG rendering is a still image',
  animatecolor: 'must not be animated (<animateColor>): the PNG rendering is a still image',
  set: 'must not be animated (<set>): the PNG rendering is a still image',
  marker: 'must not contain markers (<marker>): they can multiply a small drawing many times over',
}));

const NAME = '[A-Za-z_][\\w.-]*(?::[A-Za-z_][\\w.-]*)?';
const ATTRIBUTE = new RegExp(`(${NAME})\\s*=\\s*(?:"([^"<]*)"|'([^'<]*)')`, 'g');
/** One token of the XML subset accepted, matched where the last one ended. */
const TOKEN = new RegExp(
  [
    '<!--([\\s\\S]*?)-->', // 1: comment
    '<!\\[CDATA\\[([\\s\\S]*?)\\]\\]>', // 2: CDATA section
    '<\\?', // a processing instruction (refused)
    '<!', // a declaration: DOCTYPE, ENTITY (refused)
    `</(${NAME})\\s*>`, // 3: end tag
    `<(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`, // 4: name, 5: attributes, 6: self-closing
    '([^<]+)', // 7: text
  ].join('|'),
  'y',
);
const XML_DECLARATION = /<\?xml(\s+[^?]*)?\?>/y;
const NOT_XML_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;
const REFERENCE = /&(?:#(\d{1,7})|#x([0-9a-fA-F]{1,6})|(lt|gt|amp|quot|apos));/g;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

interface Element {
  name: string;
  attributes: Map<string, string>;
  children: Element[];
  /** Its own text (what a <style> element holds), CDATA included. */
  text: string;
  /** Ids this element draws again where it is: href="#id" and url(#id). */
  references: string[];
}

/** Throws SvgRefusal unless `text` is a logo we accept. */
export function checkSvgLogo(source: string): CheckedSvg {
  const text = stripStandardDoctype(source);
  if (NOT_XML_CHAR.test(text)) throw new SvgRefusal('must be a well-formed SVG file: it contains control characters XML does not allow');
  const root = parse(text);
  if (localName(root.name) !== 'svg' || root.name.includes(':')) throw new SvgRefusal('must be an SVG file: its root element must be <svg>');
  if (root.attributes.get('xmlns') !== SVG_NS) {
    throw new SvgRefusal(`must declare the SVG namespace on its root (xmlns="${SVG_NS}"): without it browsers do not draw it as an image`);
  }
  const styleSheets: string[] = [];
  const ids = new Map<string, Element>();
  visit(root, (element) => {
    const local = localName(element.name).toLowerCase();
    const refused = REFUSED_ELEMENTS.get(local);
    if (refused) throw new SvgRefusal(refused);
    for (const [name, value] of element.attributes) checkAttribute(element, name, value);
    const id = element.attributes.get('id');
    if (id !== undefined) {
      // Browsers take the first of two elements with one id: the count below must see the same one.
      if (ids.has(id)) throw new SvgRefusal(`must not give two elements the same id (${truncate(id)})`);
      ids.set(id, element);
    }
    if (local === 'style') styleSheets.push(element.text);
  });
  for (const css of styleSheets) {
    // A style sheet applies to elements by selector, so its references cannot be counted per
    // element: it may refer to gradients (cheap), never to what draws elements again.
    for (const target of checkCss(css)) {
      const kind = ids.get(target)?.name;
      if (kind !== undefined && !/^(?:\w+:)?(?:linearGradient|radialGradient)$/.test(kind)) {
        throw new SvgRefusal(`must not refer to <${kind}> from a <style> sheet (url(#${target})): refer to it from the element's own attribute`);
      }
    }
  }
  countExpanded(root, ids);
  return { text, aspect: aspectOf(root) };
}

function stripStandardDoctype(text: string): string {
  // Only in the prolog: after an optional XML declaration, whitespace and comments.
  const prolog = /^(?:<\?xml[^?]*\?>)?(?:\s+|<!--[\s\S]*?-->)*/.exec(text)?.[0] ?? '';
  STANDARD_DOCTYPE.lastIndex = prolog.length;
  const doctype = STANDARD_DOCTYPE.exec(text);
  return doctype ? text.slice(0, prolog.length) + text.slice(prolog.length + doctype[0].length) : text;
}

/** The element tree of the accepted XML subset; refuses anything outside it. */
function parse(text: string): Element {
  let at = 0;
  XML_DECLARATION.lastIndex = 0;
  const declaration = XML_DECLARATION.exec(text);
  if (declaration) {
    const encoding = /\bencoding\s*=\s*["']([^"']*)["']/.exec(declaration[1] ?? '')?.[1];
    if (encoding !== undefined && !/^(?:utf-8|us-ascii)$/i.test(encoding)) throw new SvgRefusal(`must be encoded as UTF-8 (it declares ${encoding})`);
    at = declaration[0].length;
  }
  const stack: Element[] = [];
  // Declared namespace prefixes, one scope per open element.
  const scopes: Set<string>[] = [new Set(['xml', 'xmlns'])];
  let root: Element | undefined;
  while (at < text.length) {
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(text);
    if (!m) throw new SvgRefusal(`must be a well-formed SVG file: unexpected markup at character ${at}`);
    at = TOKEN.lastIndex;
    const [token, comment, cdata, endName, startName, attributeText, selfClosing, chars] = m;
    const parent = stack.at(-1);
    if (comment !== undefined) {
      if (comment.includes('--') || comment.endsWith('-')) throw new SvgRefusal('must be a well-formed SVG file: a comment contains "--"');
    } else if (token.startsWith('<?')) {
      throw new SvgRefusal('must not contain processing instructions (<?…?>) other than the XML declaration at the start: they can load style sheets');
    } else if (token === '<!') {
      if (text.startsWith('<!--', at - 2)) throw new SvgRefusal('must be a well-formed SVG file: a comment is never closed');
      throw new SvgRefusal('must not contain a DOCTYPE or entity declarations (<!DOCTYPE, <!ENTITY) other than the standard SVG 1.1 one: they can expand or load content');
    } else if (cdata !== undefined || chars !== undefined) {
      const content = cdata ?? decodeReferences(chars!);
      if (!parent) {
        if (content.trim() !== '') throw new SvgRefusal('must be a well-formed SVG file: text outside the <svg> element');
      } else {
        parent.text += content;
      }
    } else if (endName !== undefined) {
      if (parent?.name !== endName) throw new SvgRefusal(`must be a well-formed SVG file: </${endName}> closes ${parent ? `<${parent.name}>` : 'nothing'}`);
      stack.pop();
      scopes.pop();
    } else {
      if (root && !parent) throw new SvgRefusal('must be a well-formed SVG file: more than one root element');
      if (stack.length >= MAX_NESTING) throw new SvgRefusal(`must not nest elements more than ${MAX_NESTING} deep`);
      const element: Element = { name: startName!, attributes: attributesOf(attributeText ?? ''), children: [], text: '', references: [] };
      const scope = new Set(scopes.at(-1));
      for (const [name, value] of element.attributes) {
        if (name.startsWith('xmlns:')) scope.add(name.slice(6));
        if ((name === 'xmlns' || name.startsWith('xmlns:')) && value.trim() === XHTML_NS) {
          throw new SvgRefusal('must not contain HTML (the XHTML namespace): only SVG shapes are accepted');
        }
      }
      for (const name of [element.name, ...element.attributes.keys()]) {
        const prefix = name.includes(':') ? name.slice(0, name.indexOf(':')) : undefined;
        if (prefix !== undefined && !scope.has(prefix)) throw new SvgRefusal(`must declare the namespace prefix "${prefix}" it uses (xmlns:${prefix}): browsers do not draw it otherwise`);
      }
      if (parent) parent.children.push(element);
      else root = element;
      if (selfClosing !== '/') {
        stack.push(element);
        scopes.push(scope);
      }
    }
  }
  if (stack.length > 0) throw new SvgRefusal(`must be a well-formed SVG file: <${stack.at(-1)!.name}> is never closed`);
  if (!root) throw new SvgRefusal('must be an SVG file: it has no <svg> element');
  return root;
}

function attributesOf(text: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const [, name, double, single] of text.matchAll(ATTRIBUTE)) {
    if (attributes.has(name!)) throw new SvgRefusal(`must be a well-formed SVG file: attribute ${name} is given twice`);
    attributes.set(name!, decodeReferences(double ?? single ?? ''));
  }
  return attributes;
}

/** Character and the five predefined entity references; any other `&` is not well-formed XML. */
function decodeReferences(text: string): string {
  const decoded = text.replace(REFERENCE, (_, dec?: string, hex?: string, named?: string) => {
    if (named) return NAMED[named]!;
    const code = dec !== undefined ? Number(dec) : parseInt(hex!, 16);
    if (code > 0x10ffff || code === 0 || (code >= 0xd800 && code <= 0xdfff)) throw new SvgRefusal('must be a well-formed SVG file: a character reference names no character');
    return String.fromCodePoint(code);
  });
  // What is left of an `&` after decoding was not a reference (an undeclared entity, a bare &).
  if (text.replace(REFERENCE, '').includes('&')) throw new SvgRefusal('must be a well-formed SVG file: it uses an undeclared entity or a bare "&"');
  return decoded;
}

function checkAttribute(element: Element, name: string, value: string): void {
  const local = localName(name).toLowerCase();
  if (local.startsWith('on')) throw new SvgRefusal(`must not have event handler attributes (${name}): logos cannot run scripts`);
  if (local === 'href') {
    const target = value.trim();
    if (!/^#[^\s#]+$/.test(target)) throw new SvgRefusal(`must not refer to anything outside the file (${name}="${truncate(target)}"): only references to its own elements (#id) are accepted`);
    element.references.push(target.slice(1));
  }
  if (local === 'style') {
    element.references.push(...checkCss(value));
    return;
  }
  element.references.push(...urlTargets(value));
}

/** Refuses what a piece of CSS (a style sheet or a style attribute) must not hold; returns its url(#id) targets. */
function checkCss(css: string): string[] {
  if (css.includes('\\')) throw new SvgRefusal('must not use escapes (\\) in CSS: they can spell out references the check would not see');
  if (/@import/i.test(css)) throw new SvgRefusal('must not import style sheets (@import): logos cannot load anything');
  if (/(?:^|[^\w-])(?:-webkit-)?(?:image|image-set|cross-fade|src)\s*\(/i.test(css)) throw new SvgRefusal('must not use CSS image functions (image(), image-set(), src()): only url(#id) references are accepted');
  if (/@keyframes|(?:^|[\s;{])animation(?:-name)?\s*:/i.test(css)) throw new SvgRefusal('must not be animated (CSS animation): the PNG rendering is a still image');
  return urlTargets(css);
}

/** Targets of `url(#id)` in an attribute or CSS; refuses any other url(). */
function urlTargets(value: string): string[] {
  const targets: string[] = [];
  for (const [, inside] of value.matchAll(/url\s*\(([^)]*)\)?/gi)) {
    const target = (inside ?? '').trim().replace(/^(["'])(.*)\1$/, '$2').trim();
    if (!/^#[^\s#'"]+$/.test(target)) throw new SvgRefusal(`must not refer to anything outside the file (url(${truncate(target)})): only url(#id) references are accepted`);
    targets.push(target.slice(1));
  }
  return targets;
}

/**
 * Refuses a drawing whose references multiply it: each element counts once, plus once more for
 * everything it draws again by reference (a `<use>`, a mask, a pattern, a clip path, a filter),
 * counted the same way. Memoised, so a tower of references is counted without being drawn.
 */
function countExpanded(root: Element, ids: Map<string, Element>): void {
  const counted = new Map<Element, number>();
  const counting = new Set<Element>();
  const count = (element: Element): number => {
    const known = counted.get(element);
    if (known !== undefined) return known;
    if (counting.has(element)) throw new SvgRefusal(`must not refer to itself (#${element.attributes.get('id') ?? element.name}): browsers and resvg would draw it without end or not at all`);
    counting.add(element);
    let total = 1;
    for (const child of element.children) total += count(child);
    for (const id of element.references) {
      const target = ids.get(id);
      if (target) total += count(target);
    }
    total = Math.min(total, MAX_EXPANDED_ELEMENTS + 1);
    counting.delete(element);
    counted.set(element, total);
    return total;
  };
  if (count(root) > MAX_EXPANDED_ELEMENTS) {
    throw new SvgRefusal(`must not draw more than ${MAX_EXPANDED_ELEMENTS.toLocaleString('en-US')} elements once its references (<use>, masks, patterns, clip paths) are counted`);
  }
}

/** CSS pixels per unit of the absolute lengths width and height may be given in. */
const PX_PER_UNIT: Record<string, number> = { '': 1, px: 1, pt: 96 / 72, pc: 16, mm: 96 / 25.4, cm: 96 / 2.54, in: 96 };

/**
 * Width / height as browsers and resvg size the logo: from width and height when both are absolute
 * lengths, else from the viewBox, which is required (it is what makes an SVG scale at all).
 */
function aspectOf(root: Element): number {
  const viewBox = root.attributes.get('viewBox')?.trim().split(/[\s,]+/).map(Number);
  if (!viewBox || viewBox.length !== 4 || viewBox.some((n) => !Number.isFinite(n)) || viewBox[2]! <= 0 || viewBox[3]! <= 0) {
    throw new SvgRefusal('must have a viewBox with a positive width and height (viewBox="0 0 100 40"): it says how the logo scales');
  }
  const [width, height] = [lengthOf(root, 'width'), lengthOf(root, 'height')];
  if (width !== undefined && height !== undefined) return width / height;
  if ((width === undefined) !== (height === undefined) && [root.attributes.get('width'), root.attributes.get('height')].some((v) => v?.trim().endsWith('%'))) {
    throw new SvgRefusal('must not mix a percentage with an absolute length in width and height: its aspect ratio would be unclear');
  }
  return viewBox[2]! / viewBox[3]!;
}

/** An absolute width or height in CSS pixels; undefined when left to the viewBox (absent, auto, 100%). */
function lengthOf(root: Element, attribute: 'width' | 'height'): number | undefined {
  const value = root.attributes.get(attribute)?.trim();
  if (value === undefined || value === 'auto' || value === '100%') return undefined;
  const m = /^(\d*\.?\d+(?:[eE][-+]?\d+)?)(px|pt|pc|mm|cm|in|)$/.exec(value);
  const px = m ? Number(m[1]) * PX_PER_UNIT[m[2]!]! : 0;
  if (!(px > 0 && Number.isFinite(px))) {
    throw new SvgRefusal(`must give ${attribute} as a positive length in px, pt, pc, mm, cm or in, or leave it out (it is "${truncate(value)}")`);
  }
  return px;
}

function visit(element: Element, fn: (element: Element) => void): void {
  fn(element);
  for (const child of element.children) visit(child, fn);
}
const localName = (name: string) => name.slice(name.indexOf(':') + 1);
const truncate = (s: string) => (s.length > 40 ? `${s.slice(0, 40)}…` : s);
