// package.json says "type": "module", so Node would read dist/cjs/*.js as ESM; this marker makes the
// CommonJS build CommonJS again (the standard dual-package layout).
import { writeFileSync } from "node:fs";

writeFileSync(
  new URL("../dist/cjs/package.json", import.meta.url),
  `${JSON.stringify({ type: "commonjs" })}\n`,
);
