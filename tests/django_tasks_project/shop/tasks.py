"""Background tasks of the shop, written against Django's tasks API only."""

try:
    from django.tasks import task
except ImportError:  # Django 5.2 with the django-tasks backport
    from django_tasks import task


@task
def add(a, b):
    return a + b


@task(queue_name="invoices")
def total(prices, *, discount=0):
    return round(sum(prices) * (1 - discount), 2)


@task
def refuse(order_id):
    raise ValueError(f"order {order_id} cannot be refunded")


@task(takes_context=True)
def whoami(context, label):
    return {"label": label, "id": context.task_result.id, "attempt": context.attempt}


@task
async def shout(word):
    return word.upper()
