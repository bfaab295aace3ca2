"""invoicer: renders a month's invoices from data/customers.csv."""
import csv
import sys


def invoices(path, month):
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["month"] == month:
                yield row["id"], row["name"], float(row["amount"])


if __name__ == "__main__":
    for number, name, amount in invoices(sys.argv[1], sys.argv[2]):
        print("%s  %-30s %10.2f EUR" % (number, name, amount))
