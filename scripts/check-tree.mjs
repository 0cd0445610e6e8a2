// Fails when the source tree loses the shape docs/architecture.md describes: an import cycle
// (type-only imports included), a file over 350 lines or a function over 80 (the conformance
// cases excepted, which are split by feature instead), or an export that no other file uses.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const MAX_FILE_LINES = 350;
const MAX_FUNCTION_LINES = 80;
/** Public entry points: what they export is the package's API. */
const ENTRIES = ["src/index.ts", "src/schema.ts", "src/testing/index.ts", "src/cli/main.ts"];
const exempt = (file) => /^src\/testing\/[a-z-]+-cases\.ts$/.test(file);

function filesUnder(folder) {
  return readdirSync(join(root, folder), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts)$/.test(entry.name) && !entry.name.endsWith(".d.ts"))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

const sources = filesUnder("src");
const users = [...sources, ...["test", "bench", "scripts", "examples"].flatMap(filesUnder), "drizzle.config.ts"];
const parsed = new Map(
  users.map((file) => [
    file,
    ts.createSourceFile(file, readFileSync(join(root, file), "utf8"), ts.ScriptTarget.Latest, true),
  ]),
);
const problems = [];

/** The file a relative specifier names, or undefined for a package. */
function target(from, specifier) {
  if (!specifier.startsWith(".")) return undefined;
  return relative(root, resolve(root, dirname(from), specifier.replace(/\.js$/, ".ts")));
}

/** Each file's imports and re-exports: [file imported, names (undefined for all)]. */
function importsOf(file) {
  const found = [];
  for (const statement of parsed.get(file).statements) {
    const specifier = statement.moduleSpecifier?.text;
    if (specifier === undefined) continue;
    const to = target(file, specifier);
    if (to === undefined) continue;
    let names;
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      const bindings = clause?.namedBindings;
      names =
        bindings && ts.isNamedImports(bindings)
          ? bindings.elements.map((e) => (e.propertyName ?? e.name).text)
          : undefined;
      if (clause?.name) names = [...(names ?? []), "default"];
    } else if (ts.isExportDeclaration(statement)) {
      const clause = statement.exportClause;
      names =
        clause && ts.isNamedExports(clause) ? clause.elements.map((e) => (e.propertyName ?? e.name).text) : undefined;
    }
    found.push([to, names]);
  }
  return found;
}

// Cycles, by depth-first search over src's imports.
const graph = new Map(
  sources.map((file) => [
    file,
    importsOf(file)
      .map(([to]) => to)
      .filter((to) => sources.includes(to)),
  ]),
);
const state = new Map();
const stack = [];
function visit(file) {
  state.set(file, "open");
  stack.push(file);
  for (const next of graph.get(file) ?? []) {
    if (state.get(next) === "open")
      problems.push(`import cycle: ${[...stack.slice(stack.indexOf(next)), next].join(" → ")}`);
    else if (!state.has(next)) visit(next);
  }
  stack.pop();
  state.set(file, "done");
}
for (const file of sources) if (!state.has(file)) visit(file);

// Sizes.
for (const file of sources) {
  if (exempt(file)) continue;
  const source = parsed.get(file);
  const lines = source.text.split("\n").length - (source.text.endsWith("\n") ? 1 : 0);
  if (lines > MAX_FILE_LINES) problems.push(`${file}: ${lines} lines, more than ${MAX_FILE_LINES}`);
  const walk = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.end).line;
      if (end - start + 1 > MAX_FUNCTION_LINES) {
        const name = node.name?.getText(source) ?? "(anonymous)";
        problems.push(
          `${file}:${start + 1}: function ${name} is ${end - start + 1} lines, more than ${MAX_FUNCTION_LINES}`,
        );
      }
    }
    ts.forEachChild(node, walk);
  };
  walk(source);
}

// Exports no other file uses.
const used = new Map();
for (const file of users) {
  for (const [to, names] of importsOf(file)) {
    if (!used.has(to)) used.set(to, new Set());
    for (const name of names ?? ["*"]) used.get(to).add(name);
  }
}
for (const file of sources) {
  if (ENTRIES.includes(file)) continue;
  const names = used.get(file) ?? new Set();
  if (names.has("*")) continue;
  for (const statement of parsed.get(file).statements) {
    const exported = ts.getModifiers?.(statement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (!exported) continue;
    const declared = ts.isVariableStatement(statement)
      ? statement.declarationList.declarations.map((d) => d.name.getText())
      : [statement.name?.getText() ?? "default"];
    for (const name of declared)
      if (!names.has(name)) problems.push(`${file}: exports ${name}, which no other file uses`);
  }
}

for (const problem of problems) console.error(problem);
if (problems.length > 0) process.exit(1);
console.log(
  `${sources.length} source files: no import cycle, none over ${MAX_FILE_LINES} lines, no function over ${MAX_FUNCTION_LINES}, every export used`,
);
