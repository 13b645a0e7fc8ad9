import sys

from ticketing_contracts.asyncapi import render

sys.stdout.write(render())
