import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0006_target_attainment_percent"),
        ("tenancy", "0003_notifications"),
        ("workers", "0003_fewer_hot_indexes"),
        ("workforce", "0002_forecasts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Schedule",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("name", models.CharField(max_length=200)),
                ("start", models.DateTimeField(help_text="Aware UTC, on a 30-minute boundary")),
                ("days", models.PositiveSmallIntegerField()),
                (
                    "status",
                    models.CharField(
                        choices=[("draft", "Draft"), ("published", "Published")],
                        default="draft",
                        max_length=10,
                    ),
                ),
                (
                    "solve_state",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("running", "Solving"),
                            ("solved", "Solved"),
                            ("failed", "Failed"),
                        ],
                        default="queued",
                        max_length=10,
                    ),
                ),
                ("solver_status", models.CharField(blank=True, max_length=20)),
                ("solve_error", models.TextField(blank=True)),
                ("solver_options", models.JSONField(blank=True, default=dict)),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("objective", models.FloatField(blank=True, null=True)),
                ("requirements", models.JSONField(blank=True, default=list)),
                ("under_staffed", models.FloatField(default=0)),
                ("shift_count", models.PositiveIntegerField(default=0)),
                ("total_cost", models.DecimalField(decimal_places=2, default=0, max_digits=14)),
                (
                    "cost_per_site",
                    models.JSONField(blank=True, default=dict, help_text="{site id: cost}"),
                ),
                ("unfilled_shifts", models.PositiveIntegerField(default=0)),
                ("rostered_at", models.DateTimeField(blank=True, null=True)),
                ("published_at", models.DateTimeField(blank=True, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "provider",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.organisation",
                    ),
                ),
            ],
            options={
                "ordering": ["provider_id", "-start", "id"],
            },
        ),
        migrations.CreateModel(
            name="ShiftTemplate",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("name", models.CharField(max_length=120)),
                ("length_minutes", models.PositiveIntegerField()),
                ("break_minutes", models.PositiveIntegerField(default=30)),
                ("break_earliest_minutes", models.PositiveIntegerField(default=180)),
                ("break_latest_minutes", models.PositiveIntegerField(default=300)),
                ("start_step_minutes", models.PositiveIntegerField(default=30)),
                ("is_active", models.BooleanField(default=True)),
                (
                    "provider",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.organisation",
                    ),
                ),
            ],
            options={
                "ordering": ["provider_id", "length_minutes", "id"],
            },
        ),
        migrations.CreateModel(
            name="ScheduledShift",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("start", models.DateTimeField()),
                ("end", models.DateTimeField()),
                ("break_start", models.DateTimeField(blank=True, null=True)),
                ("break_end", models.DateTimeField(blank=True, null=True)),
                (
                    "process",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="contracts.process",
                    ),
                ),
                (
                    "provider",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.organisation",
                    ),
                ),
                (
                    "schedule",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="shifts",
                        to="workforce.schedule",
                    ),
                ),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.site",
                    ),
                ),
                (
                    "worker",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="scheduled_shifts",
                        to="workers.worker",
                    ),
                ),
                (
                    "template",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="workforce.shifttemplate",
                    ),
                ),
            ],
            options={
                "ordering": ["schedule_id", "site_id", "start", "id"],
            },
        ),
        migrations.CreateModel(
            name="SitePlanningRule",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("opening_hours", models.JSONField(blank=True, default=list)),
                ("max_days_per_week", models.PositiveSmallIntegerField(default=5)),
                ("min_rest_hours", models.PositiveSmallIntegerField(default=11)),
                (
                    "provider",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.organisation",
                    ),
                ),
                (
                    "site",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="planning_rule",
                        to="tenancy.site",
                    ),
                ),
            ],
            options={
                "ordering": ["site_id"],
            },
        ),
        migrations.CreateModel(
            name="TimeOffRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("start", models.DateTimeField()),
                ("end", models.DateTimeField()),
                ("reason", models.CharField(blank=True, max_length=500)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("requested", "Requested"),
                            ("approved", "Approved"),
                            ("rejected", "Rejected"),
                        ],
                        default="requested",
                        max_length=10,
                    ),
                ),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("coverage_cost", models.JSONField(blank=True, default=list)),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "provider",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.organisation",
                    ),
                ),
                (
                    "worker",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="time_off",
                        to="workers.worker",
                    ),
                ),
            ],
            options={
                "ordering": ["provider_id", "start", "id"],
            },
        ),
        migrations.CreateModel(
            name="AgentContract",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("hours_per_week", models.PositiveSmallIntegerField(default=40)),
                (
                    "provider",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.organisation",
                    ),
                ),
                (
                    "worker",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="contract",
                        to="workers.worker",
                    ),
                ),
            ],
            options={
                "ordering": ["worker_id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("hours_per_week__lte", 80)), name="agent_contract_hours"
                    )
                ],
            },
        ),
        migrations.AddIndex(
            model_name="schedule",
            index=models.Index(fields=["provider", "status", "start"], name="schedule_published"),
        ),
        migrations.AddConstraint(
            model_name="shifttemplate",
            constraint=models.UniqueConstraint(
                fields=("provider", "name"), name="shift_template_name"
            ),
        ),
        migrations.AddIndex(
            model_name="scheduledshift",
            index=models.Index(fields=["provider", "start"], name="scheduled_shift_start"),
        ),
        migrations.AddIndex(
            model_name="scheduledshift",
            index=models.Index(fields=["worker", "start"], name="scheduled_shift_worker"),
        ),
        migrations.AddConstraint(
            model_name="scheduledshift",
            constraint=models.CheckConstraint(
                condition=models.Q(("end__gt", models.F("start"))), name="shift_order"
            ),
        ),
        migrations.AddConstraint(
            model_name="siteplanningrule",
            constraint=models.CheckConstraint(
                condition=models.Q(("max_days_per_week__gte", 1), ("max_days_per_week__lte", 7)),
                name="site_planning_max_days",
            ),
        ),
        migrations.AddConstraint(
            model_name="siteplanningrule",
            constraint=models.CheckConstraint(
                condition=models.Q(("min_rest_hours__lte", 48)), name="site_planning_min_rest"
            ),
        ),
        migrations.AddIndex(
            model_name="timeoffrequest",
            index=models.Index(fields=["worker", "start"], name="time_off_worker_start"),
        ),
        migrations.AddConstraint(
            model_name="timeoffrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(("end__gt", models.F("start"))), name="time_off_order"
            ),
        ),
    ]
