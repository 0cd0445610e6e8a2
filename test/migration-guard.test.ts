import { describe, expect, it } from "vitest";
import { guardMigration } from "../src/cli/migration-guard.js";

/** An app's migration as drizzle-kit generates it once the app's schema lists the store's table. */
const generated = (table: string) =>
  [
    `CREATE TABLE ${table} (\n\t"prefix" varchar(255) NOT NULL\n);`,
    'CREATE TABLE "users" (\n\t"id" serial PRIMARY KEY\n);',
    `CREATE INDEX "idx_workflow_store_prefix" ON ${table} USING btree ("prefix");`,
    `CREATE INDEX "workflow_store_prefix_key_bytes" ON ${table} USING btree ("prefix",(key collate "C"));`,
    'CREATE INDEX "users_name" ON "users" USING btree ("name");',
  ].join("--> statement-breakpoint\n");

describe("guardMigration", () => {
  it.each([
    ["the default schema", '"workflow_store"'],
    ["a schema of its own", '"tenant_a"."workflow_store"'],
  ])("makes the store's table and every index of it IF NOT EXISTS in %s, and nothing else", (_where, table) => {
    const { sql, changes } = guardMigration(generated(table));
    expect(sql).toContain(`CREATE TABLE IF NOT EXISTS ${table} (`);
    expect(sql).toContain(`CREATE INDEX IF NOT EXISTS "idx_workflow_store_prefix" ON ${table} USING btree`);
    expect(sql).toContain(`CREATE INDEX IF NOT EXISTS "workflow_store_prefix_key_bytes" ON ${table} USING btree`);
    expect(sql).toContain('CREATE TABLE "users" (');
    expect(sql).toContain('CREATE INDEX "users_name" ON "users"');
    expect(changes).toHaveLength(3);
    // Guarded once, it has nothing more to change.
    expect(guardMigration(sql)).toEqual({ sql, changes: [] });
  });
});
