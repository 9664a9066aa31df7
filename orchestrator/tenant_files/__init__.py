"""A tenant's master data as files: one CSV per entity, exported, validated and imported (`bakeplan export`,
`bakeplan import`; docs/import.md).

`columns` is the one table of files and columns; `cells` parses and writes single cells (numbers,
dates, units, price tiers); `reading` turns files into master-data rows and every bad cell into a
`file:line:column: reason`; `writing` turns rows back into files; `diff` compares rows. These are
pure. `csv_files` reads and writes a directory, `xlsx_files` reads a workbook;
`orchestrator.tenant_files_store` reads and writes Postgres.
"""
