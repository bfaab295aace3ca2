/* dbpages_report.c: report.json, report.txt and RESTORE.md, written beside the files
 * dbpages_write.c rebuilt. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "salvage/dbpages_internal.h"

static const char *engine_name(unsigned engine)
{
	return engine == DBPAGES_INNODB ? "innodb" : "postgresql";
}

/* json_member_string puts the comma before a member: every member after the first
 * passes 1. */
static void json_report(FILE *out, const struct writer *writer,
    const struct file_report *report, int comma)
{
	fprintf(out, "    {");
	json_member_string(out, "file", report->name, 0);
	json_member_string(out, "engine", engine_name(report->engine), 1);
	if (report->table[0])
		json_member_string(out, "table", report->table, 1);
	fprintf(out, ", \"%s\": %" PRIu32 ", \"page_size\": %zu, \"declared_pages\": %" PRIu64
	    ", \"first_page\": %" PRIu64 ", \"pages\": %" PRIu64 ", \"found\": %" PRIu64
	    ", \"missing\": %" PRIu64 ", \"never_used\": %" PRIu64 ", \"doublewrite\": %" PRIu64,
	    report->engine == DBPAGES_INNODB ? "space_id" : "attributes",
	    report->engine != DBPAGES_PG ? report->group : report->group == PG_TOAST_GROUP ? 3
	    : report->group >= PG_BTREE_GROUP ? 0 : report->group,
	    report->page_size, report->declared, report->first, report->end - report->first,
	    report->found, report->missing, report->free_pages, report->doublewrite);
	json_member_string(out, "missing_pages", report->missing_text, 1);
	if (report->engine == DBPAGES_PG && report->group >= PG_BTREE_GROUP)
		fprintf(out, ", \"index\": \"btree\", \"metapage\": %s, \"root\": %" PRIu32
		    ", \"levels\": %" PRIu32, report->btree.meta ? "true" : "false",
		    report->btree.root, report->btree.levels);
	if (report->engine == DBPAGES_INNODB)
		fprintf(out, ", \"tablespaces_with_this_space_id\": %u, \"compressed\": %" PRIu64
		    ", \"joined\": %" PRIu64, report->lanes, report->compressed, report->joined);
	fprintf(out, ", \"unreadable\": %" PRIu64 ", \"superseded\": %" PRIu64
	    ", \"other_size\": %" PRIu64 ", \"other_origin\": %" PRIu64 ", \"bad_checksum\": %"
	    PRIu64 ", \"lsn_min\": %" PRIu64 ", \"lsn_max\": %" PRIu64, report->unreadable,
	    report->superseded, report->other_size, report->foreign, report->bad,
	    report->lsn_min, report->lsn_max);
	dbpages_toast_json(out, writer, report);
	fprintf(out, "}%s\n", comma ? "," : "");
}

char *dbpages_json_report(const struct writer *writer, size_t *size)
{
	const struct dbpages *pages = writer->pages;
	const struct dbpages_summary *summary = writer->summary;
	char *text = NULL;
	FILE *out = open_memstream(&text, size);

	if (out == NULL)
		return NULL;
	fprintf(out, "{\n  \"files\": [\n");
	for (size_t i = 0; i < writer->report_count; i++)
		json_report(out, writer, &writer->reports[i], i + 1 < writer->report_count);
	fprintf(out, "  ],\n  \"indexes\": %u, \"index_pages_missing\": %" PRIu64
	    ", \"pg_btree_unplaced\": %" PRIu64
	    ", \"pg_btree_ambiguous\": %" PRIu64 ",", summary->indexes,
	    summary->index_pages_missing, writer->btree_unplaced,
	    writer->btree_ambiguous);
	json_member_string(out, "pg_btree_ambiguous_blocks", writer->ambiguous_text, 0);
	fprintf(out, ",\n  \"tablespaces\": %u, \"relations\": %u, \"pages_written\": %" PRIu64
	    ", \"pages_missing\": %" PRIu64 ", \"bad_checksum\": %" PRIu64 ", \"unreadable\": %"
	    PRIu64 ",\n  \"pg_index_pages\": %" PRIu64 ", \"pg_unplaced\": %" PRIu64
	    ", \"pg_guessed\": %" PRIu64 ", \"pg_bad_line_pointers\": %" PRIu64 "\n}\n",
	    summary->tablespaces, summary->relations, summary->pages_written,
	    summary->pages_missing, summary->bad_checksums, summary->unreadable,
	    pages->pg_index_pages, pages->pg_unplaced, pages->pg_guessed,
	    pages->pg_bad_line_pointers);
	return fclose(out) == 0 ? text : (free(text), NULL);
}

static void text_report(FILE *out, const struct writer *writer,
    const struct file_report *report)
{
	int toast = report->engine == DBPAGES_PG && report->group == PG_TOAST_GROUP;

	if (report->engine == DBPAGES_PG && report->group >= PG_BTREE_GROUP) {
		fprintf(out, "%s  postgresql btree index, 8192-byte pages: %" PRIu64 " of %" PRIu64
		    " found, ", report->name, report->found, report->end - report->first);
		if (report->btree.meta)
			fprintf(out, "root %" PRIu32 ", %" PRIu32 " levels (metapage)", report->btree.root,
			    report->btree.levels);
		else
			fprintf(out, "no metapage (block 0 lost or ambiguous)");
		fprintf(out, ", LSN %" PRIu64 "-%" PRIu64 "\n", report->lsn_min, report->lsn_max);
		if (report->missing)
			fprintf(out, "    missing %" PRIu64 ": %s\n", report->missing,
			    report->missing_text);
		if (report->unreadable || report->superseded)
			fprintf(out, "    unreadable %" PRIu64 ", copies %" PRIu64 "\n",
			    report->unreadable, report->superseded);
		return;
	}
	fprintf(out, "%s  %s %s %" PRIu32 ", %zu-byte pages: %" PRIu64 " of %" PRIu64 " found",
	    report->name, engine_name(report->engine), report->engine == DBPAGES_INNODB
	    ? "space id" : toast ? "TOAST chunks, attributes" : "tuples of attributes",
	    toast ? 3 : report->group, report->page_size, report->found,
	    report->end - report->first);
	if (report->table[0])
		fprintf(out, ", table %s", report->table);
	if (report->engine == DBPAGES_INNODB)
		fprintf(out, report->declared ? " (page 0 declares %" PRIu64 ")"
		    : " (page 0 not found: length from the highest page)", report->declared);
	fprintf(out, ", LSN %" PRIu64 "-%" PRIu64 "\n", report->lsn_min, report->lsn_max);
	if (report->free_pages)
		fprintf(out, "    never used (zeros, nothing lost) %" PRIu64 "\n", report->free_pages);
	if (report->compressed)
		fprintf(out, "    page-compressed (kept as they are, MariaDB reads them) %" PRIu64 "\n",
		    report->compressed);
	if (report->joined)
		fprintf(out, "    of them split on the disk and put back together %" PRIu64 "\n",
		    report->joined);
	if (report->doublewrite)
		fprintf(out, "    doublewrite buffer (copies of other pages, nothing lost) %" PRIu64
		    "\n", report->doublewrite);
	if (report->missing)
		fprintf(out, "    missing %" PRIu64 ": %s\n", report->missing, report->missing_text);
	if (report->lanes > 1)
		fprintf(out, "    space id %" PRIu32 " is claimed by %u tablespaces (space-%" PRIu32
		    ".ibd, space-%" PRIu32 "-2.ibd ...), kept apart by their index ids and LSN "
		    "ranges: this is number %u\n", report->group, report->lanes, report->group,
		    report->group, report->lane + 1);
	if (report->foreign && report->engine == DBPAGES_INNODB)
		fprintf(out, "    %" PRIu64 " index pages of another tablespace with space id %"
		    PRIu32 " (other index ids), not written\n", report->foreign, report->group);
	if (report->foreign && report->engine == DBPAGES_PG)
		fprintf(out, "    %" PRIu64 " pages of another relation with %" PRIu32 " attributes"
		    " at the same block numbers (no tuple in common), not written\n",
		    report->foreign, report->group);
	if (report->unreadable || report->bad || report->superseded || report->other_size)
		fprintf(out, "    unreadable %" PRIu64 ", wrong checksum %" PRIu64 ", older copies %"
		    PRIu64 ", other page size %" PRIu64 "\n", report->unreadable, report->bad,
		    report->superseded, report->other_size);
	dbpages_toast_text(out, writer, report);
}

char *dbpages_text_report(const struct writer *writer, size_t *size)
{
	const struct dbpages *pages = writer->pages;
	char *text = NULL;
	FILE *out = open_memstream(&text, size);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < writer->report_count; i++)
		text_report(out, writer, &writer->reports[i]);
	/* tests/qemu/test_rehearse.py reads this line: the indexes come after it. */
	fprintf(out, "%u tablespaces, %u relations: %" PRIu64 " pages written, %" PRIu64
	    " missing, %" PRIu64 " with a wrong checksum\n", writer->summary->tablespaces,
	    writer->summary->relations, writer->summary->pages_written,
	    writer->summary->pages_missing, writer->summary->bad_checksums);
	if (pages->pg_index_pages || pages->pg_unplaced || pages->pg_guessed)
		fprintf(out, "PostgreSQL: %" PRIu64 " index pages not written (not btree, deleted, "
		    "or without data checksums: rebuild indexes with REINDEX), %" PRIu64 " heap "
		    "pages without a block number not written, %" PRIu64 " heap pages placed at a "
		    "guessed block number\n", pages->pg_index_pages,
		    pages->pg_unplaced, pages->pg_guessed);
	if (writer->summary->indexes)
		fprintf(out, "PostgreSQL: %u btree indexes (pg-btree ...): %" PRIu64 " blocks "
		    "missing in them, not counted above (indexes are rebuilt from their "
		    "table)\n", writer->summary->indexes, writer->summary->index_pages_missing);
	if (writer->btree_unplaced)
		fprintf(out, "PostgreSQL: %" PRIu64 " btree pages that no link places (metapages "
		    "of empty indexes, or pages whose metapage, parent and siblings were lost), "
		    "not written\n", writer->btree_unplaced);
	if (writer->btree_ambiguous)
		fprintf(out, "PostgreSQL: %" PRIu64 " btree pages ambiguous (the links of two "
		    "indexes claim them, or metapages and roots of indexes built alike), not "
		    "written: %s\n", writer->btree_ambiguous, writer->ambiguous_text);
	if (pages->pg_bad_line_pointers)
		fprintf(out, "PostgreSQL: %" PRIu64 " pages with a valid header and a line pointer "
		    "past the end of the page: damaged, never used\n", pages->pg_bad_line_pointers);
	return fclose(out) == 0 ? text : (free(text), NULL);
}

static const char restore_innodb[] =
"## InnoDB tablespaces (`space-N.ibd`)\n\n"
"Each file is one tablespace (one table with its indexes) named by its space id. On a\n"
"MariaDB or MySQL server of the same major version, started with the same character set:\n\n"
"1. Create the table with its original definition (the same columns, types, ROW_FORMAT and\n"
"   primary key) in any database: `CREATE TABLE recovered.t (...);`. If the import\n"
"   complains about indexes, create it without its secondary indexes. A tablespace the\n"
"   report lists with page-compressed pages was a MariaDB `PAGE_COMPRESSED=1` table: add\n"
"   that option (the pages are kept compressed, those the disk held in two places put\n"
"   back together; the server reads them as they are).\n"
"2. `ALTER TABLE recovered.t DISCARD TABLESPACE;`\n"
"3. Copy `space-N.ibd` into the server's data directory as `recovered/t.ibd`, owned by the\n"
"   server's user (`chown mysql:mysql`).\n"
"4. `ALTER TABLE recovered.t IMPORT TABLESPACE;` (a warning that no `.cfg` file was found\n"
"   is expected), then `CHECK TABLE recovered.t;` and `SELECT COUNT(*)`.\n"
"5. Add back the secondary indexes left out in step 1 (`ALTER TABLE ... ADD INDEX`).\n\n"
"Which table a space id was: the report lists the page counts; `strings space-N.ibd`\n"
"shows the text of its rows. Missing pages are zeros: the import may then refuse the\n"
"file or later report the index as corrupt; `innodb_force_recovery=1` and\n"
"`SELECT ... INTO OUTFILE` get out what is readable.\n\n";

static const char restore_pg[] =
"## PostgreSQL relations (`pg-Aatts`, `.1`, `.2` ... past 1 GiB)\n\n"
"Each file holds the heap pages whose tuples have A attributes, at their block numbers.\n"
"Tuples are visible only to the cluster that wrote them (their transaction ids must be\n"
"known to it): use the same cluster, a copy of it, or one restored from `rescue dump`.\n\n"
"1. `CREATE TABLE recovered (...);` with the original columns, types and order.\n"
"2. `SELECT pg_relation_filepath('recovered');` gives `base/DB/FILENODE`.\n"
"3. Stop the server (`pg_ctl stop`). Copy `pg-Aatts` over `base/DB/FILENODE` (and each\n"
"   `pg-Aatts.N` to `base/DB/FILENODE.N`), owned by `postgres`; remove\n"
"   `FILENODE_fsm` and `FILENODE_vm` if they exist.\n"
"4. Start the server, then `SELECT count(*) FROM recovered;`.\n\n"
"Values TOASTed out of line are read from the TOAST relation the pointers name, not\n"
"from this file: a table the report gives TOASTed values needs the commands of the next\n"
"section instead. Blocks never found are zeros, which PostgreSQL reads as empty pages.\n"
"Tables with the same number of attributes are told apart by their transaction ids\n"
"(`pg-Aatts`, `pg-Aatts-2`, ...): look at a few rows of each (`SELECT * ... LIMIT 5`) to\n"
"see which table it is. `pg-toast`, `pg-toast-2` ... are TOAST relations (tuples of\n"
"chunk_id, chunk_seq, chunk_data): the report says which table's values they hold.\n\n";

static const char restore_btree[] =
"## PostgreSQL btree indexes (`pg-btree`, `pg-btree-2` ...)\n\n"
"Indexes are simplest rebuilt once their table is back: `CREATE INDEX ...` with the\n"
"original definition, or `REINDEX TABLE recovered;`. The files here are btree indexes\n"
"as the server wrote them (blocks never found are zeros; the report gives the root and\n"
"levels from the metapage, block 0). They are for inspection, or for when the table is\n"
"lost but an index holding the columns survived (its key, or INCLUDE columns): on a\n"
"copy of the cluster, create the index on an empty table of the same definition, stop\n"
"the server, copy the file over `pg_relation_filepath('the_index')`, start it, and read\n"
"the keys (in hex, the `data` column) with the pageinspect extension:\n"
"`SELECT * FROM bt_page_items('the_index', N);` for each leaf block N (`bt_page_stats`\n"
"says which are leaves); both read a file whose metapage (block 0) is zeros too. Do not\n"
"query the table through it: the heap tuples its entries point at are not there.\n\n";

/* SQLite files are carved whole (carve_document.c: from the header to its page count x
 * page size). The appliance has no sqlite3 shell to run `.recover` itself, so the file is
 * written as found and the commands for the receiver are given here. Debian 12's (and
 * Ubuntu's) sqlite3 shell is built without the sqlite_dbpage table `.recover` reads:
 * there it fails ("SQL logic error"), so `.dump` without its final ROLLBACK is given too
 * (tests/qemu/test_carve_db.py runs it). */
static const char restore_sqlite[] =
"\n## SQLite databases (`%s`, beside this folder)\n\n"
"Each `f<offset>.sqlite` there is an SQLite database file as it lay on the disk, from its\n"
"header on, as long as the header says. Pages overwritten since it was deleted are in it\n"
"as they were found: rescue does not repair them. On the receiver, with the sqlite3 shell:\n\n"
"    sqlite3 f<offset>.sqlite 'PRAGMA integrity_check'\n\n"
"`ok` means the file is whole: use it as it is. Otherwise let SQLite's own recovery read\n"
"what it can into a new database. With a sqlite3 shell that has `.recover` (3.29 or\n"
"later, built with SQLITE_ENABLE_DBPAGE_VTAB, as sqlite.org's own binaries are):\n\n"
"    sqlite3 f<offset>.sqlite .recover > recovered.sql\n"
"    sqlite3 recovered.db < recovered.sql\n\n"
"(rows whose table it cannot tell go to a table `lost_and_found`). Debian's and Ubuntu's\n"
"sqlite3 lack that table and stop with \"SQL logic error\"; there, `.dump` gets the rows of\n"
"every table page it can still reach (fewer: a damaged interior page loses the pages\n"
"below it). Its last line rolls everything back when it met damage; keep the rows:\n\n"
"    sqlite3 f<offset>.sqlite .dump | sed 's/^ROLLBACK; -- due to errors$/COMMIT;/' \\\n"
"        | sqlite3 recovered.db\n";

char *dbpages_restore_text(const struct writer *writer, size_t *size)
{
	const char *prefix = writer->output->prefix;
	char *text = NULL;
	FILE *out = open_memstream(&text, size);
	int innodb = 0, pg = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < writer->report_count; i++) {
		innodb |= writer->reports[i].engine == DBPAGES_INNODB;
		pg |= writer->reports[i].engine == DBPAGES_PG;
	}
	/* RESTORE.md lies beside the report: a prefix's folder ("vda.db/") is not named. */
	fprintf(out, "# Bringing the recovered database files back\n\n"
	    "What was found and what is missing is in `%sreport.txt` (and `.json`).\n\n",
	    strrchr(prefix, '/') ? strrchr(prefix, '/') + 1 : prefix);
	if (innodb)
		fputs(restore_innodb, out);
	if (pg) {
		fputs(restore_pg, out);
		dbpages_toast_restore(out, writer);
		if (writer->summary->indexes)
			fputs(restore_btree, out);
	}
	if (!innodb && !pg)
		fputs("No database pages were found.\n", out);
	if (writer->output->sqlite_folder)
		fprintf(out, restore_sqlite, writer->output->sqlite_folder);
	return fclose(out) == 0 ? text : (free(text), NULL);
}
