"""`manage.py place_order EMAIL [--fail]`: an order and its receipt in one transaction."""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMessage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from shop.models import Order


class Command(BaseCommand):
    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email")
        parser.add_argument("--fail", action="store_true", help="the payment fails after all")

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            order = Order.objects.create(email=options["email"], total=10)
            receipt = EmailMessage(f"Receipt {order.pk}", "Thank you.", None, [options["email"]])
            receipt.send()
            if options["fail"]:
                raise CommandError("the payment failed")
        self.stdout.write(f"order {order.pk} placed, mail {receipt.gmail_send_mail.id}")
